// Server-side request forgery guard: a Redfish user must not make the BMC fetch from itself
// (loopback, its own addresses) or from link-local services (cloud metadata at 169.254.169.254).
// Checked on every address the host name resolves to.
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { MountError } from '../../errno.js';

const FORBIDDEN = new BlockList();
FORBIDDEN.addSubnet('127.0.0.0', 8, 'ipv4'); // loopback
FORBIDDEN.addSubnet('169.254.0.0', 16, 'ipv4'); // link-local
FORBIDDEN.addSubnet('0.0.0.0', 8, 'ipv4'); // "this host"
FORBIDDEN.addSubnet('224.0.0.0', 4, 'ipv4'); // multicast
FORBIDDEN.addAddress('255.255.255.255', 'ipv4');
FORBIDDEN.addAddress('::1', 'ipv6');
FORBIDDEN.addAddress('::', 'ipv6');
FORBIDDEN.addSubnet('fe80::', 10, 'ipv6'); // link-local
FORBIDDEN.addSubnet('ff00::', 8, 'ipv6'); // multicast

/** Why this address may not be a source host, or undefined when it may. */
export function forbiddenAddressReason(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  // ::ffff:127.0.0.1 reaches 127.0.0.1
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const [addr, type] = mapped
    ? [mapped[1]!, 'ipv4' as const]
    : [address, family === 4 ? ('ipv4' as const) : ('ipv6' as const)];
  if (FORBIDDEN.check(addr, type)) return 'loopback, link-local or multicast address';
  if (ownAddresses().has(addr.toLowerCase())) return 'an address of this BMC';
  return undefined;
}

function ownAddresses(): Set<string> {
  const own = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) own.add(a.address.toLowerCase().replace(/%.*$/, ''));
  }
  return own;
}

/** Rejects with EINVAL when `host` is or resolves to a forbidden address (EHOSTUNREACH when it does not resolve). */
export async function checkSourceHost(host: string): Promise<void> {
  let addresses: string[];
  if (isIP(host)) {
    addresses = [host];
  } else {
    try {
      addresses = (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
    } catch (err) {
      throw new MountError('EHOSTUNREACH', `the image server's host name "${host}" does not resolve`, { cause: err });
    }
  }
  for (const address of addresses) {
    const reason = forbiddenAddressReason(address);
    if (reason) {
      throw new MountError(
        'EINVAL',
        `the image host ${host}${address !== host ? ` (${address})` : ''} is refused: ${reason} (set AllowPrivateSourceHosts to allow it)`,
      );
    }
  }
}
