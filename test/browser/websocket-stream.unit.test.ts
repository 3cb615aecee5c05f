// The WebSocket byte stream gives the writer its buffer back (so the NBD server's reply pool
// refills instead of allocating): at once after a browser's send(), which copies; through the
// `ws` package's send callback, which fires once written; at once when it had to copy the bytes
// (socket still connecting) or will never send them (closed). A long write leaves as 256 KiB
// messages, views of the one buffer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { webSocketStream, type WebSocketLike } from '../../src/nbd/websocket-stream.js';

class FakeSocket implements WebSocketLike {
  binaryType = 'blob';
  readyState = 1;
  bufferedAmount = 0;
  /** What send() was given, and the callback when the socket takes one. */
  sent: Array<{ data: Uint8Array; onSent?: () => void }> = [];
  send(data: Uint8Array, onSent?: () => void): void {
    this.sent.push(onSent ? { data, onSent } : { data });
  }
  close(): void {
    this.readyState = 3;
  }
  addEventListener(): void {}
}

/** The `ws` package's socket: it can pause, and calls send's callback once written. */
class FakeWsPackageSocket extends FakeSocket {
  pause(): void {}
  resume(): void {}
}

test('a browser WebSocket copies on send: the buffer comes back at once', () => {
  const ws = new FakeSocket();
  const stream = webSocketStream(ws);
  let back = 0;
  assert.equal(
    stream.write(new Uint8Array(8), () => back++),
    true,
  );
  assert.equal(back, 1);
  assert.equal(ws.sent.length, 1);
  assert.equal(ws.sent[0]!.onSent, undefined, 'no callback handed to a browser socket');
});

test('the ws package says when it has written: the buffer comes back then', () => {
  const ws = new FakeWsPackageSocket();
  const stream = webSocketStream(ws);
  let back = 0;
  stream.write(new Uint8Array(8), () => back++);
  assert.equal(back, 0, 'still in use until written');
  ws.sent[0]!.onSent!();
  assert.equal(back, 1);
});

test('before the socket opens the bytes are copied, and the buffer comes back at once; after close too', () => {
  const ws = new FakeSocket();
  ws.readyState = 0;
  const stream = webSocketStream(ws);
  const data = new Uint8Array([1, 2, 3]);
  let back = 0;
  stream.write(data, () => back++);
  assert.equal(back, 1);
  ws.readyState = 3;
  stream.write(data, () => back++);
  assert.equal(back, 2);
  assert.equal(ws.sent.length, 0);
});

test('a long write leaves as 256 KiB messages, the last taking the rest; the buffer comes back after the last', () => {
  const ws = new FakeWsPackageSocket();
  const stream = webSocketStream(ws);
  const KiB = 1024;
  const reply = new Uint8Array(1024 * KiB + 16).map((_, i) => i % 251);
  let back = 0;
  stream.write(reply, () => back++);
  assert.deepEqual(
    ws.sent.map((s) => s.data.byteLength),
    [256 * KiB, 256 * KiB, 256 * KiB, 256 * KiB + 16],
  );
  // views of the one buffer, in order: the bytes leave as they were, not copied
  for (const s of ws.sent) assert.equal(s.data.buffer, reply.buffer);
  assert.deepEqual(Buffer.concat(ws.sent.map((s) => s.data)), Buffer.from(reply));
  for (const s of ws.sent.slice(0, -1)) s.onSent!();
  assert.equal(back, 0, 'in use until its last message is written');
  ws.sent.at(-1)!.onSent!();
  assert.equal(back, 1);
});

test("a 256 KiB read's reply stays one message, and so does a browser's short write", () => {
  const ws = new FakeSocket();
  const stream = webSocketStream(ws);
  stream.write(new Uint8Array(256 * 1024 + 16));
  stream.write(new Uint8Array(320 * 1024));
  stream.write(new Uint8Array(320 * 1024 + 1));
  assert.deepEqual(
    ws.sent.map((s) => s.data.byteLength),
    [256 * 1024 + 16, 320 * 1024, 256 * 1024, 64 * 1024 + 1],
  );
});
