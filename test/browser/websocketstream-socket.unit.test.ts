// The page's worker serves over Chromium's WebSocketStream through an adapter that looks like a
// WebSocket. How it reports the end matters to the user: the page words its notice from the close
// code and reason. Chromium rejects `closed` instead of resolving it when the close was not clean,
// and it counts a close as unclean when the writable still held bytes the browser had not taken:
// the NBD greeting the page writes the moment the connection opens, racing the bridge's
// "already in use" close (a CI run saw "refused (code 1006)"). The rejection's WebSocketError
// still carries the server's code and reason. Here the browser's API is a stand-in over Node's
// web streams; page.test.ts runs the adapter in Chromium.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { webSocketStreamSocket } from '../../src/browser/websocketstream-socket.js';

type CloseInfo = { closeCode?: number; reason?: string };

/** A WebSocketStream whose opening and closing the test decides; it records what is written. */
function fakeWebSocketStream() {
  const written: Uint8Array[] = [];
  const created: { url: string; protocols: string[] }[] = [];
  let open!: () => void;
  let settle!: { resolve: (info: CloseInfo) => void; reject: (err: unknown) => void };
  let pushMessage!: (data: ArrayBuffer) => void;
  let closedBy: CloseInfo | undefined;
  const ctor = class {
    readonly opened: Promise<{ readable: ReadableStream<ArrayBuffer>; writable: WritableStream<Uint8Array> }>;
    readonly closed: Promise<CloseInfo>;
    constructor(url: string, options?: { protocols?: string[] }) {
      created.push({ url, protocols: options?.protocols ?? [] });
      const readable = new ReadableStream<ArrayBuffer>({
        start: (controller) => void (pushMessage = (data) => controller.enqueue(data)),
      });
      const writable = new WritableStream<Uint8Array>({ write: (chunk) => void written.push(chunk) });
      this.opened = new Promise((resolve) => (open = () => resolve({ readable, writable })));
      this.closed = new Promise((resolve, reject) => (settle = { resolve, reject }));
    }
    close(info?: CloseInfo): void {
      closedBy = info;
    }
  };
  return {
    ctor,
    created,
    written,
    open: () => open(),
    settle: () => settle,
    message: (data: ArrayBuffer) => pushMessage(data),
    closedBy: () => closedBy,
  };
}

/** The adapter's events, in order. */
function record(socket: ReturnType<typeof webSocketStreamSocket>) {
  const events: { type: string; ev: unknown }[] = [];
  socket.addEventListener('message', (ev) => void events.push({ type: 'message', ev }));
  for (const type of ['open', 'error', 'close'] as const) {
    socket.addEventListener(type, (ev) => void events.push({ type, ev }));
  }
  return events;
}

/** Lets the adapter's promise callbacks run. */
const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

/** The WebSocketError Chromium rejects `closed` with: a DOMException with the close's code and reason. */
function webSocketError(closeCode: number | null, reason: string): Error {
  return Object.assign(new Error('WebSocket was not cleanly closed.'), { closeCode, reason });
}

test('the bridge refuses a busy slot and the close is unclean: the page still gets 4409 and the reason', async () => {
  const fake = fakeWebSocketStream();
  const socket = webSocketStreamSocket(fake.ctor, 'wss://bmc/nbd/1', ['token']);
  const events = record(socket);
  fake.open();
  await settled();
  socket.send(new Uint8Array(152)); // the NBD greeting, still in the writable when the close comes
  fake.settle().reject(webSocketError(4409, 'Slot_1 is already in use by another client'));
  await settled();
  assert.deepEqual(
    events.map((e) => e.type),
    ['open', 'error', 'close'],
  );
  assert.deepEqual(events[2]!.ev, { code: 4409, reason: 'Slot_1 is already in use by another client' });
  assert.equal(socket.readyState, 3);
  assert.deepEqual(fake.created, [{ url: 'wss://bmc/nbd/1', protocols: ['token'] }]);
});

test('a connection that never brought a close frame reports 1006, as a WebSocket does', async () => {
  const fake = fakeWebSocketStream();
  const socket = webSocketStreamSocket(fake.ctor, 'wss://bmc/nbd/1', []);
  const events = record(socket);
  // refused at the upgrade: Chromium's error has no close code
  fake.settle().reject(webSocketError(null, ''));
  await settled();
  assert.deepEqual(
    events.map((e) => e.type),
    ['error', 'close'],
  );
  assert.deepEqual(events[1]!.ev, { code: 1006, reason: '' });
  // a rejection that is not a WebSocketError at all
  const other = fakeWebSocketStream();
  const otherEvents = record(webSocketStreamSocket(other.ctor, 'wss://bmc/nbd/1', []));
  other.settle().reject(new TypeError('network error'));
  await settled();
  assert.deepEqual(otherEvents.at(-1)!.ev, { code: 1006, reason: '' });
});

test('a clean close reports its code and reason; the page closes with its own', async () => {
  const fake = fakeWebSocketStream();
  const socket = webSocketStreamSocket(fake.ctor, 'wss://bmc/nbd/1', []);
  const events = record(socket);
  fake.open();
  await settled();
  fake.message(new Uint8Array([1, 2, 3]).buffer);
  await settled();
  socket.close(1000, 'stopped by the user');
  assert.equal(socket.readyState, 2);
  assert.deepEqual(fake.closedBy(), { closeCode: 1000, reason: 'stopped by the user' });
  fake.settle().resolve({ closeCode: 1000, reason: 'stopped by the user' });
  await settled();
  assert.deepEqual(
    events.map((e) => e.type),
    ['open', 'message', 'close'],
  );
  assert.deepEqual([...new Uint8Array((events[1]!.ev as { data: ArrayBuffer }).data)], [1, 2, 3]);
  assert.deepEqual(events[2]!.ev, { code: 1000, reason: 'stopped by the user' });
});

test('bufferedAmount counts what the writable has not taken; send calls back once it has', async () => {
  const fake = fakeWebSocketStream();
  const socket = webSocketStreamSocket(fake.ctor, 'wss://bmc/nbd/1', []);
  assert.throws(() => socket.send(new Uint8Array(1)), /not open/);
  fake.open();
  await settled();
  let taken = 0;
  socket.send(new Uint8Array(256 * 1024), () => taken++);
  assert.equal(socket.bufferedAmount, 256 * 1024);
  await settled();
  assert.equal(taken, 1);
  assert.equal(socket.bufferedAmount, 0);
  assert.equal(fake.written.length, 1);
  assert.equal(fake.written[0]!.byteLength, 256 * 1024);
});
