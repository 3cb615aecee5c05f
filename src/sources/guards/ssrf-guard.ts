// Server-side request forgery guard: a Redfish user must not make the BMC fetch from itself
// (loopback, its own addresses) or from link-local services (cloud metadata at 169.254.169.254).
// Checked on every address the host name resolves to, as the IPv4 address it reaches when it
// embeds one (address.ts).
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { networkInterfaces } from 'node:os';
import { MountError } from '../../errno.js';
import { reachedAddress } from './address.js';

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
  const reached = reachedAddress(address);
  if (!reached) return 'not an IP address';
  if (FORBIDDEN.check(reached.address, reached.family)) return 'loopback, link-local or multicast address';
  if (ownAddresses().has(reached.address)) return 'an address of this BMC';
  return undefined;
}

/** The interfaces' addresses, in reachedAddress's form (so that one address has one text). */
function ownAddresses(): Set<string> {
  const own = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      const reached = reachedAddress(a.address);
      if (reached) own.add(reached.address);
    }
  }
  return own;
}

/**
 * The addresses `host` is or resolves to, all allowed. Rejects with EINVAL when one is forbidden
 * (EHOSTUNREACH when it does not resolve). A connection must go to one of these, never to a second
 * resolution of the name: that may answer differently (DNS rebinding).
 */
export async function checkSourceHost(host: string): Promise<string[]> {
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
  return addresses;
}

/** A `lookup` for node:net connections that yields only addresses checkSourceHost allows. */
export const checkedLookup: LookupFunction = (host, options, callback) => {
  checkSourceHost(host).then(
    (addresses) => {
      const all = addresses.map((address) => ({ address, family: isIP(address) }));
      if (options.all) callback(null, all);
      else callback(null, all[0]?.address ?? '', all[0]?.family);
    },
    (err: Error) => callback(new Error(err.message, { cause: err }), '', 0),
  );
};
