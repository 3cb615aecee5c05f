// ByteStream over a WebSocket: the browser's WebSocket or the `ws` package's, binary frames
// carrying arbitrary slices of the byte stream. Browsers have no drain event, so back-pressure
// polls bufferedAmount; the `ws` package can also pause delivery, browsers cannot.
// A browser's send() copies the bytes before it returns, so the writer gets its buffer back at
// once (the NBD server's reply pool refills instead of allocating); `ws` says when it is done.
import { startTimer } from './platform.js';
import type { ByteStream } from './stream.js';

/** The subset of the WebSocket API used here, common to browsers and the `ws` package. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  /** The callback is the `ws` package's (called once written); browsers take no callback. */
  send(data: Uint8Array, onSent?: () => void): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'message', listener: (ev: { data: unknown }) => void): void;
  addEventListener(type: 'open' | 'close' | 'error', listener: (ev: unknown) => void): void;
  /** `ws` package only. */
  pause?(): void;
  resume?(): void;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;
/** write() reports "full" above this many queued bytes, and drain fires below the low mark. */
const HIGH_WATER = 4 * 1024 * 1024;
const LOW_WATER = 1024 * 1024;
const DRAIN_POLL_MS = 5;
/**
 * A longer write leaves as messages of MESSAGE_BYTES, the last one taking the rest (up to
 * LONGEST_MESSAGE_BYTES): Chromium's renderer spends more per byte on a message far above one
 * reply of 256 KiB (bench/paths D, nbdcopy reading 1 MiB at a time: the renderers 3.92 CPU-s/GiB
 * against 2.82 with 256 KiB reads). The bridge relays bytes, not messages, so nothing else sees
 * it. A 256 KiB read's reply, with its header, stays one message.
 */
const MESSAGE_BYTES = 256 * 1024;
const LONGEST_MESSAGE_BYTES = MESSAGE_BYTES + 64 * 1024;

/** `data` as the messages it leaves in (views, no copies). */
function messagesOf(data: Uint8Array): Uint8Array[] {
  if (data.byteLength <= LONGEST_MESSAGE_BYTES) return [data];
  const parts: Uint8Array[] = [];
  let at = 0;
  for (; data.byteLength - at > LONGEST_MESSAGE_BYTES; at += MESSAGE_BYTES) {
    parts.push(data.subarray(at, at + MESSAGE_BYTES));
  }
  parts.push(data.subarray(at));
  return parts;
}

export function webSocketStream(ws: WebSocketLike): ByteStream {
  ws.binaryType = 'arraybuffer';
  const tellsWhenSent = typeof ws.pause === 'function'; // the `ws` package
  const dataCallbacks: Array<(d: Uint8Array) => void> = [];
  const drainCallbacks: Array<() => void> = [];
  const closeCallbacks: Array<(err?: Error) => void> = [];
  let closed = false;
  let error: Error | undefined;
  let polling = false;
  let beforeOpen: Uint8Array[] = []; // writes made while the socket was still connecting

  function finish(): void {
    if (closed) return;
    closed = true;
    for (const cb of closeCallbacks) cb(error);
  }

  function pollDrain(): void {
    if (polling) return;
    polling = true;
    const check = () => {
      if (closed) return;
      if (ws.bufferedAmount > LOW_WATER) {
        startTimer(DRAIN_POLL_MS, check);
        return;
      }
      polling = false;
      for (const cb of drainCallbacks) cb();
    };
    startTimer(DRAIN_POLL_MS, check);
  }

  ws.addEventListener('open', () => {
    const queued = beforeOpen;
    beforeOpen = [];
    for (const d of queued) ws.send(d);
  });
  ws.addEventListener('message', (ev) => {
    if (!(ev.data instanceof ArrayBuffer)) {
      error = new Error('WebSocket carried a text frame; NBD needs binary frames');
      ws.close(1003, 'binary frames only');
      return;
    }
    const d = new Uint8Array(ev.data);
    for (const cb of dataCallbacks) cb(d);
  });
  ws.addEventListener('error', (ev) => {
    error ??= new Error(`WebSocket error: ${(ev as { message?: string }).message ?? 'connection failed'}`);
  });
  ws.addEventListener('close', finish);
  // a socket that closed before this stream was made sends no 'close' any more: without this,
  // whoever waits on the stream (an NBD handshake) would wait for its own timeout
  if (ws.readyState === CLOSED) finish();

  return {
    write(data, onWritten) {
      const open = ws.readyState === OPEN && !closed;
      if (open && tellsWhenSent) {
        const parts = messagesOf(data);
        let unsent = parts.length;
        // the caller has its buffer back once the last of its messages is written
        const sent = parts.length === 1 ? onWritten : () => --unsent === 0 && onWritten?.();
        for (const part of parts) ws.send(part, sent);
      } else {
        if (open) for (const part of messagesOf(data)) ws.send(part);
        // the caller may reuse its buffer before the socket opens
        else if (ws.readyState === CONNECTING && !closed) beforeOpen.push(data.slice());
        onWritten?.(); // copied, or never to be sent: the caller has its buffer back
      }
      if (!open || ws.bufferedAmount <= HIGH_WATER) return true;
      pollDrain();
      return false;
    },
    onData: (cb) => {
      dataCallbacks.push(cb);
    },
    onDrain: (cb) => {
      drainCallbacks.push(cb);
    },
    onClose: (cb) => {
      if (closed) startTimer(0, () => cb(error));
      else closeCallbacks.push(cb);
    },
    pause: () => ws.pause?.(),
    resume: () => ws.resume?.(),
    close: () => ws.close(1000),
  };
}
