// The byte stream both ends of the protocol run over: a Node socket, a WebSocket, or an
// in-memory pipe in tests. Kept minimal so that every transport can provide it.

export interface ByteStream {
  /**
   * Queue bytes for the peer. false → the transport is full: wait for onDrain before writing more.
   * onWritten, when the transport can tell, is called once it no longer needs `data` (the caller
   * may then reuse the buffer); a transport that cannot tell never calls it.
   */
  write(data: Uint8Array, onWritten?: () => void): boolean;
  /** data is valid during the call only: a transport may read the next chunk into the same buffer. */
  onData(cb: (data: Uint8Array) => void): void;
  onDrain(cb: () => void): void;
  /**
   * Optional, for transports that read into memory the caller picks (a Node socket we opened):
   * `target` is asked before each read; a buffer it returns receives the next bytes and is then
   * handed to onData (a large payload lands in its destination without a copy), undefined means
   * the transport's own buffer.
   */
  readTarget?(target: () => Uint8Array | undefined): void;
  /** Each callback is called once, when the stream ends for any reason (err when abnormal). */
  onClose(cb: (err?: Error) => void): void;
  /** Stop delivering data (back-pressure) until resume(). */
  pause(): void;
  resume(): void;
  /** Graceful end after pending writes. */
  close(): void;
}

/** Raised for reads that cannot complete because the stream ended first. */
export class StreamClosedError extends Error {
  constructor(message = 'connection closed', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StreamClosedError';
  }
}
