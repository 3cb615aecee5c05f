// Reads an accepted socket (TLS or plain) into one reused buffer instead of a new Buffer per
// read. Node gives every read of a stream its own Buffer (a malloc, an ArrayBuffer, a
// Readable.push and a 'data' event per ≤ 16 KiB TLS record) unless the socket was made with
// `onread`; but a server's TLS sockets are made by Node and take no `onread`
// (`onread: !socket ? tlsOptions.onread : null` in lib/_tls_wrap.js), and neither do the sockets
// a net.Server accepts. In the web's bridge that per-read garbage was a third of the CPU per byte
// (docs/performance.md). So this sets up, on an existing socket, what net.Socket's constructor
// does for `onread` (lib/net.js): the socket's kBuffer/kBufferCb fields and the handle's
// useUserBuffer. It relies on Node's internals: when they are not there (another Node), it
// returns false and the caller reads 'data' events as before (test/net/read-buffer.unit.test.ts
// fails on a Node where the fast path is gone, so that is seen).
import type { Socket } from 'node:net';

/** Called with each read; the bytes are valid during the call only. */
export type OnRead = (bytes: Buffer) => void;

interface UserBufferHandle {
  useUserBuffer(buffer: Uint8Array): void;
}

/**
 * From now on every read of `socket` lands in `buffer` and goes to `onRead`; 'data' events stop.
 * What the socket had read before and nobody consumed goes to `onRead` first, during this call.
 * Pausing and resuming the socket keep working (net.Socket stops and starts its handle's reads
 * itself in this mode), but a TLS socket may still deliver the rest of the records it decrypted
 * from one network read after pause(). False when this Node has no such mode: nothing changed.
 */
export function readIntoBuffer(socket: Socket, buffer: Buffer, onRead: OnRead): boolean {
  const symbols = Object.getOwnPropertySymbols(socket);
  const kBuffer = symbols.find((s) => s.description === 'kBuffer');
  const kBufferCb = symbols.find((s) => s.description === 'kBufferCb');
  const kBufferGen = symbols.find((s) => s.description === 'kBufferGen');
  const handle = (socket as unknown as { _handle?: Partial<UserBufferHandle> | null })._handle;
  if (!kBuffer || !kBufferCb || !kBufferGen || typeof handle?.useUserBuffer !== 'function') return false;
  const fields = socket as unknown as Record<symbol, unknown>;
  if (fields[kBuffer] !== null || fields[kBufferGen] !== null) return false;
  fields[kBuffer] = buffer;
  // returning nothing (not false) keeps the socket reading; pause() is how a reader stops it
  fields[kBufferCb] = (nread: number, buf: Buffer) => onRead(buf.subarray(0, nread));
  handle.useUserBuffer(buffer);
  for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null;) onRead(chunk);
  return true;
}
