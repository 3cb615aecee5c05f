// The SSRF guard sees through every IPv6 form that reaches an IPv4 address (v4-mapped, also in the
// hex form WHATWG URLs write, v4-compatible, NAT64): loopback, link-local and this machine's own
// addresses are refused in all of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { reachedAddress } from '../../src/sources/guards/address.js';
import { checkedLookup, checkSourceHost, forbiddenAddressReason } from '../../src/sources/guards/ssrf-guard.js';
import { parseSourceUrl } from '../../src/sources/guards/source-url.js';
import { MountError } from '../../src/errno.js';

test('reachedAddress: the IPv4 address an IPv6 form reaches; other addresses in one text each', () => {
  const table: [string, string | undefined, ('ipv4' | 'ipv6')?][] = [
    ['192.0.2.2', '192.0.2.2', 'ipv4'],
    ['::ffff:127.0.0.1', '127.0.0.1', 'ipv4'],
    ['::ffff:7f00:1', '127.0.0.1', 'ipv4'], // what new URL('http://[::ffff:127.0.0.1]/').hostname gives
    ['::FFFF:C000:0202', '192.0.2.2', 'ipv4'],
    ['0:0:0:0:0:ffff:a9fe:a9fe', '169.254.169.254', 'ipv4'],
    ['::127.0.0.1', '127.0.0.1', 'ipv4'], // v4-compatible
    ['::c000:202', '192.0.2.2', 'ipv4'],
    ['64:ff9b::7f00:1', '127.0.0.1', 'ipv4'], // NAT64 well-known prefix
    ['64:ff9b::169.254.169.254', '169.254.169.254', 'ipv4'],
    ['::1', '::1', 'ipv6'], // IPv6 loopback, not v4-compatible 0.0.0.1
    ['::', '::', 'ipv6'],
    ['0:0:0:0:0:0:0:1', '::1', 'ipv6'],
    ['2001:DB8:0:0::1', '2001:db8::1', 'ipv6'],
    ['fe80::1%eth0', 'fe80::1', 'ipv6'],
    ['64:ff9b:1::7f00:1', '64:ff9b:1::7f00:1', 'ipv6'], // a local-use NAT64 prefix: where the IPv4 sits is the network's choice
    ['::ffff:0:7f00:1', '::ffff:0:7f00:1', 'ipv6'],
    ['example.com', undefined],
    ['127.1', undefined],
  ];
  for (const [input, address, family] of table) {
    assert.deepEqual(reachedAddress(input), address === undefined ? undefined : { address, family }, input);
  }
});

test('forbiddenAddressReason: loopback, link-local and multicast in every IPv6 form', () => {
  const loopbackEtc = 'loopback, link-local or multicast address';
  const table: [string, string | undefined][] = [
    ['127.0.0.1', loopbackEtc],
    ['::ffff:7f00:1', loopbackEtc],
    ['::ffff:127.0.0.1', loopbackEtc],
    ['::7f00:1', loopbackEtc],
    ['64:ff9b::7f00:1', loopbackEtc],
    ['64:ff9b::a9fe:a9fe', loopbackEtc],
    ['::ffff:e000:1', loopbackEtc], // 224.0.0.1
    ['::1', loopbackEtc],
    ['fe80::1%eth0', loopbackEtc],
    ['198.51.100.7', undefined],
    ['::ffff:c633:6407', undefined], // 198.51.100.7
    ['2001:db8::7', undefined],
    ['localhost', 'not an IP address'],
  ];
  for (const [address, reason] of table) assert.equal(forbiddenAddressReason(address), reason, address);
});

const ownIPv4 = Object.values(networkInterfaces())
  .flat()
  .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal)?.address;

test(
  "this machine's own IPv4 address is refused in every form a URL can name it",
  { skip: ownIPv4 ? false : 'no non-loopback IPv4 address here' },
  async () => {
    const own = ownIPv4!;
    const hex = own
      .split('.')
      .map(Number)
      .reduce<string[]>((groups, octet, i) => {
        if (i % 2 === 0) groups.push('');
        groups[groups.length - 1] += octet.toString(16).padStart(2, '0');
        return groups;
      }, [])
      .join(':');
    for (const host of [own, `[::ffff:${own}]`, `[::ffff:${hex}]`, `[::${own}]`, `[64:ff9b::${own}]`]) {
      const url = parseSourceUrl(`http://${host}/a.iso`, ['http']);
      await assert.rejects(
        checkSourceHost(url.host),
        (err: unknown) =>
          err instanceof MountError && err.errno === 'EINVAL' && /an address of this BMC/.test(err.message),
        `${host} (URL host ${url.host})`,
      );
    }
  },
);

test('checkedLookup (the redirect check resolves with it) fails for a name with a forbidden address', async () => {
  const err = await new Promise<Error | null>((resolve) => checkedLookup('localhost', { all: true }, resolve));
  assert.match(String(err?.message), /refused: loopback/);
});
