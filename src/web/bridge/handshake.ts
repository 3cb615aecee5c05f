// The server's half of the WebSocket opening handshake (RFC 6455 §4.2) for the bridge: checks
// the upgrade request and answers 101. No extensions are offered (no compression: the bytes are
// disk blocks, and frames pass through unchanged). The first subprotocol offered is echoed:
// webui-vue sends the XSRF token as its only one.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { BridgeSocket } from './connection.js';

const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export class HandshakeError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HandshakeError';
  }
}

export interface Handshake {
  /** The Sec-WebSocket-Accept value. */
  accept: string;
  /** The subprotocol selected: the first offered, if any. */
  protocol?: string;
}

/** The subprotocols of the request, in the client's order (empty when none). */
export function offeredProtocols(req: IncomingMessage): string[] {
  const header = req.headers['sec-websocket-protocol'];
  if (header === undefined) return [];
  const offered = header.split(',').map((p) => p.trim());
  if (!offered.every((p) => TOKEN.test(p))) throw new HandshakeError(400, 'invalid Sec-WebSocket-Protocol header');
  return offered;
}

/** Checks an upgrade request; throws HandshakeError (status and why) when it is not a valid one. */
export function checkHandshake(req: IncomingMessage): Handshake {
  if (req.method !== 'GET') throw new HandshakeError(405, 'a WebSocket upgrade is a GET');
  if (req.headers.upgrade?.toLowerCase() !== 'websocket')
    throw new HandshakeError(400, 'missing or invalid Upgrade header');
  const key = req.headers['sec-websocket-key'];
  if (key === undefined || !/^[+/0-9A-Za-z]{22}==$/.test(key))
    throw new HandshakeError(400, 'missing or invalid Sec-WebSocket-Key header');
  const version = req.headers['sec-websocket-version'];
  if (version !== '13' && version !== '8')
    throw new HandshakeError(400, 'missing or invalid Sec-WebSocket-Version header');
  const protocol = offeredProtocols(req)[0];
  const accept = createHash('sha1')
    .update(key + ACCEPT_GUID)
    .digest('base64');
  return protocol === undefined ? { accept } : { accept, protocol };
}

/**
 * Completes a checked handshake on the upgraded socket: the WebSocket, paused, or undefined when
 * the client left while the request was being checked.
 */
export function switchProtocols(
  socket: Socket,
  head: Buffer,
  handshake: Handshake,
  maxMessageBytes: number,
): BridgeSocket | undefined {
  if (!socket.readable || !socket.writable) {
    socket.destroy();
    return undefined;
  }
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${handshake.accept}`,
  ];
  if (handshake.protocol !== undefined) lines.push(`Sec-WebSocket-Protocol: ${handshake.protocol}`);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  return new BridgeSocket(socket, head, maxMessageBytes);
}
