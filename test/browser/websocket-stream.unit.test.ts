// The WebSocket byte stream gives the writer its buffer back (so the NBD server's reply pool
// refills instead of allocating): at once after a browser's send(), which copies; through the
// `ws` package's send callback, which fires once written; at once when it had to copy the bytes
// (socket still connecting) or will never send them (closed).
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
