// The WebSocket the worker serves over, on the browser's WebSocketStream where it has one
// (Chromium and Edge). A WebSocket's send() gives no sign of when the browser has taken the
// bytes: the page's NBD server sends a batch of replies in one task, and Chromium copies
// whatever does not fit its 131000-byte pipe to the network service into queued messages.
// A WebSocketStream's writer queues the replies themselves and resolves each write once the
// browser has taken it, so the server learns when a reply buffer is free again (the `ws`
// package's callback) and the browser copies at most one reply's overflow.
// Presented as a WebSocketLike so that the one NBD byte stream (websocket-stream.ts) serves both.
import type { WebSocketLike } from '../nbd/websocket-stream.js';

/** The part of the WebSocketStream API used here (not yet in TypeScript's DOM library). */
interface WebSocketStreamApi {
  readonly opened: Promise<{
    readable: ReadableStream<ArrayBuffer | string>;
    writable: WritableStream<Uint8Array>;
  }>;
  readonly closed: Promise<{ closeCode?: number; reason?: string }>;
  close(info?: { closeCode?: number; reason?: string }): void;
}
type WebSocketStreamConstructor = new (url: string, options?: { protocols?: string[] }) => WebSocketStreamApi;

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
/** What a connection that ended without a close frame reports, as a WebSocket does. */
const ABNORMAL_CLOSURE = 1006;

type Listener = (ev: never) => void;

/** The browser's WebSocketStream, when it has one. */
export function webSocketStreamConstructor(): WebSocketStreamConstructor | undefined {
  const ctor = (globalThis as { WebSocketStream?: unknown }).WebSocketStream;
  return typeof ctor === 'function' ? (ctor as WebSocketStreamConstructor) : undefined;
}

export function webSocketStreamSocket(
  WebSocketStream: WebSocketStreamConstructor,
  url: string,
  protocols: string[],
): WebSocketLike {
  const listeners = new Map<string, Listener[]>();
  const emit = (type: string, ev: object) => {
    for (const listener of listeners.get(type) ?? []) (listener as (ev: object) => void)(ev);
  };
  let readyState = CONNECTING;
  let buffered = 0;
  let writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  let paused = false;
  let wakeReader: (() => void) | undefined;
  const stream = new WebSocketStream(url, { protocols });

  async function deliver(readable: ReadableStream<ArrayBuffer | string>): Promise<void> {
    const reader = readable.getReader();
    for (;;) {
      // not reading is the back-pressure: the browser then stops reading the socket
      while (paused) await new Promise<void>((resume) => (wakeReader = resume));
      const { value, done } = await reader.read();
      if (done) return;
      emit('message', { data: value });
    }
  }

  stream.opened.then(
    ({ readable, writable }) => {
      if (readyState !== CONNECTING) return;
      writer = writable.getWriter();
      readyState = OPEN;
      emit('open', {});
      // a read that fails is the connection failing: `closed` reports it
      deliver(readable).catch(() => undefined);
    },
    () => undefined, // `closed` rejects too, and reports it
  );
  stream.closed.then(
    ({ closeCode, reason }) => {
      readyState = CLOSED;
      emit('close', { code: closeCode ?? ABNORMAL_CLOSURE, reason: reason ?? '' });
    },
    (err: unknown) => {
      readyState = CLOSED;
      emit('error', { message: err instanceof Error ? err.message : String(err) });
      // an unclean close rejects with a WebSocketError, which still carries the server's close
      // code and reason when its close frame came. Chromium calls a close unclean when the
      // writable still held bytes it had not taken: the NBD greeting written on open, racing
      // the bridge's 4409 "in use"
      const { closeCode, reason } = (err ?? {}) as { closeCode?: number | null; reason?: string };
      emit('close', { code: closeCode ?? ABNORMAL_CLOSURE, reason: reason ?? '' });
    },
  );

  return {
    binaryType: 'arraybuffer', // a WebSocketStream delivers binary messages as ArrayBuffers
    get readyState() {
      return readyState;
    },
    get bufferedAmount() {
      return buffered;
    },
    send(data, onSent) {
      if (!writer) throw new Error('WebSocketStream is not open');
      buffered += data.byteLength;
      const taken = () => {
        buffered -= data.byteLength;
        onSent?.();
      };
      // a failed write means a failed connection, which `closed` reports; the buffer is free
      writer.write(data).then(taken, taken);
    },
    close(code, reason) {
      if (readyState === CLOSED) return;
      readyState = CLOSING;
      stream.close({ closeCode: code, reason });
    },
    addEventListener(type: string, listener: Listener) {
      listeners.set(type, [...(listeners.get(type) ?? []), listener]);
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      wakeReader?.();
      wakeReader = undefined;
    },
  };
}
