// The server side of SOCKS5 (RFC 1928) that the source relay speaks: no authentication (the relay's
// Unix socket is reachable by this service's user only), CONNECT only, to a host name (curl's
// socks5h), an IPv4 or an IPv6 address.
import { SocketAddress } from 'node:net';

const VERSION = 5;
const NO_AUTHENTICATION = 0;
const NO_ACCEPTABLE_METHOD = 0xff;
const CONNECT = 1;
const ATYP_IPV4 = 1;
const ATYP_NAME = 3;
const ATYP_IPV6 = 4;

/** Reply codes (RFC 1928 §6). */
export const Reply = {
  succeeded: 0,
  generalFailure: 1,
  notAllowed: 2,
  networkUnreachable: 3,
  hostUnreachable: 4,
  connectionRefused: 5,
  commandNotSupported: 7,
  addressTypeNotSupported: 8,
} as const;

/** A request the relay will not serve; `reply` is the code to answer with (none: just close). */
export class SocksError extends Error {
  constructor(
    message: string,
    readonly reply?: number,
  ) {
    super(message);
    this.name = 'SocksError';
  }
}

/** The client's greeting: its length once complete, undefined while incomplete. Throws SocksError. */
export function parseGreeting(buf: Buffer): { length: number; noAuthentication: boolean } | undefined {
  if (buf.length < 2) return undefined;
  if (buf[0] !== VERSION) throw new SocksError(`not SOCKS5 (version byte ${buf[0]})`);
  const length = 2 + (buf[1] ?? 0);
  if (buf.length < length) return undefined;
  return { length, noAuthentication: buf.subarray(2, length).includes(NO_AUTHENTICATION) };
}

export function methodChoice(noAuthentication: boolean): Buffer {
  return Buffer.from([VERSION, noAuthentication ? NO_AUTHENTICATION : NO_ACCEPTABLE_METHOD]);
}

export interface ConnectRequest {
  /** Host name, dotted IPv4 or IPv6 (canonical text). */
  host: string;
  port: number;
  /** Bytes of the request; anything after them is the client's first data. */
  length: number;
}

/** The CONNECT request after the greeting, undefined while incomplete. Throws SocksError. */
export function parseConnectRequest(buf: Buffer): ConnectRequest | undefined {
  if (buf.length < 5) return undefined;
  if (buf[0] !== VERSION) throw new SocksError(`not SOCKS5 (version byte ${buf[0]})`);
  if (buf[1] !== CONNECT) throw new SocksError(`command ${buf[1]} is not CONNECT`, Reply.commandNotSupported);
  const atyp = buf[3];
  const addressLength = atyp === ATYP_IPV4 ? 4 : atyp === ATYP_IPV6 ? 16 : atyp === ATYP_NAME ? 1 + (buf[4] ?? 0) : -1;
  if (addressLength < 0) throw new SocksError(`address type ${atyp} is unknown`, Reply.addressTypeNotSupported);
  const length = 4 + addressLength + 2;
  if (buf.length < length) return undefined;
  const address = buf.subarray(4, 4 + addressLength);
  const host =
    atyp === ATYP_IPV4
      ? [...address].join('.')
      : atyp === ATYP_IPV6
        ? ipv6Text(address)
        : address.subarray(1).toString('latin1');
  return { host, port: buf.readUInt16BE(length - 2), length };
}

function ipv6Text(bytes: Buffer): string {
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(2 * i).toString(16));
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

/** The answer to a CONNECT; the bound address is not ours to tell (0.0.0.0:0). */
export function connectReply(code: number): Buffer {
  return Buffer.from([VERSION, code, 0, ATYP_IPV4, 0, 0, 0, 0, 0, 0]);
}
