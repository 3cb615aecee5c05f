// The address a connection really reaches. Several IPv6 forms carry an IPv4 address and reach it:
// v4-mapped (::ffff:a.b.c.d, also in the hex form ::ffff:7f00:1 that WHATWG URLs write),
// v4-compatible (::a.b.c.d) and NAT64 (64:ff9b::/96). A check of the IPv6 text would miss e.g.
// the BMC's own IPv4 address behind it, so the guard checks what this returns.
import { SocketAddress, isIPv4, isIPv6 } from 'node:net';

export interface ReachedAddress {
  /** Dotted IPv4, or IPv6 in its canonical text (RFC 5952: one text per address) without zone. */
  address: string;
  family: 'ipv4' | 'ipv6';
}

/** What a connection to `address` reaches; undefined when `address` is no IP address. */
export function reachedAddress(address: string): ReachedAddress | undefined {
  if (isIPv4(address)) return { address, family: 'ipv4' };
  const unzoned = address.replace(/%.*$/, ''); // fe80::1%eth0
  if (!isIPv6(unzoned)) return undefined;
  const g = ipv6Groups(unzoned);
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  const mapped = zeroUpTo(5) && g[5] === 0xffff;
  // :: and ::1 are IPv6's own unspecified and loopback addresses, not v4-compatible ones
  const compatible = zeroUpTo(6) && !(g[6] === 0 && (g[7] ?? 0) <= 1);
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0);
  if (mapped || compatible || nat64) {
    const [high = 0, low = 0] = g.slice(6);
    return { address: `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`, family: 'ipv4' };
  }
  return { address: new SocketAddress({ address: unzoned, family: 'ipv6' }).address, family: 'ipv6' };
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted IPv4 tail split in two). */
function ipv6Groups(address: string): number[] {
  const groupsOf = (part: string) =>
    part === ''
      ? []
      : part.split(':').flatMap((p) => {
          if (!p.includes('.')) return [parseInt(p, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = p.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head = '', tail] = address.split('::');
  const front = groupsOf(head);
  if (tail === undefined) return front;
  const back = groupsOf(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}
