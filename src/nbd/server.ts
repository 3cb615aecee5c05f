// The NBD server: fixed newstyle handshake, then transmission, over any ByteStream. One
// NbdServer serves any number of connections; serve() is called once per connection.
import type { BlockBackend } from './backend.js';
import { DEFAULT_MAX_REQUEST_BYTES } from './constants.js';
import { Connection } from './connection.js';
import { startTimer } from './platform.js';
import { negotiate, type ExportLookup } from './server-handshake.js';
import { Transmission, type TransferCounters } from './server-transmission.js';
import { StreamClosedError, type ByteStream } from './stream.js';

export interface NbdServerOptions {
  /** Export names → backends, or a function resolving a name (then NBD_OPT_LIST is refused). */
  exports: ReadonlyMap<string, BlockBackend> | ((name: string) => BlockBackend | undefined);
  /** Largest READ/WRITE payload accepted (advertised in NBD_INFO_BLOCK_SIZE). Default 32 MiB. */
  maxRequestBytes?: number;
  /** A client that has not finished the handshake by then is disconnected. Default 30 s. */
  handshakeTimeoutMs?: number;
  /** Told about a connection that ended on an unexpected error (not a peer hanging up). */
  onError?: (err: Error) => void;
}

export class NbdServer {
  private readonly exports: ExportLookup;
  private readonly maxRequestBytes: number;
  private readonly handshakeTimeoutMs: number;
  /** Payload bytes served over all connections (the Stats interface's ReadIO/WriteIO). */
  readonly counters: TransferCounters = { bytesRead: 0, bytesWritten: 0 };

  constructor(private readonly opts: NbdServerOptions) {
    const e = opts.exports;
    this.exports =
      typeof e === 'function'
        ? { get: e, names: () => undefined }
        : { get: (name) => e.get(name), names: () => [...e.keys()] };
    this.maxRequestBytes = opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? 30_000;
    if (
      !Number.isInteger(this.maxRequestBytes) ||
      this.maxRequestBytes < 512 ||
      this.maxRequestBytes > 0xffffffff - 32
    ) {
      throw new RangeError(`maxRequestBytes must be an integer between 512 and 2^32-33, got ${this.maxRequestBytes}`);
    }
  }

  /** Handshake + transmission; resolves when the connection has ended, whatever the reason. */
  async serve(stream: ByteStream): Promise<void> {
    const conn = new Connection(stream);
    try {
      const timer = startTimer(this.handshakeTimeoutMs, () => conn.close());
      const negotiated = await negotiate(conn, this.exports, this.maxRequestBytes).finally(() => timer.cancel());
      if (negotiated) await new Transmission(conn, negotiated, this.maxRequestBytes, this.counters).run();
    } catch (err) {
      // a peer that went away or sent a truncated message needs no answer; anything else is ours
      if (!(err instanceof StreamClosedError)) this.opts.onError?.(err as Error);
    }
    conn.close();
    await conn.closed;
  }
}
