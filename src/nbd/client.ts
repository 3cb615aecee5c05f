// The NBD client: handshake (OPT_GO, falling back to EXPORT_NAME), then pipelined requests
// matched to replies by handle. Requests larger than the server's maximum are split.
import { nbdErrnoName, NbdError } from './backend.js';
import * as C from './constants.js';
import { Connection } from './connection.js';
import { clientHandshake } from './client-handshake.js';
import { DIRECT_READ_MIN_BYTES } from './byte-reader.js';
import { monotonicMs, startTimer, type Timer } from './platform.js';
import { StreamClosedError, type ByteStream } from './stream.js';
import { encodeRequest, view } from './wire.js';

export interface NbdClientOptions {
  exportName?: string;
  /** Limit for the handshake and for each request's reply; none by default. */
  timeoutMs?: number;
}

interface Pending {
  /** The request, for messages (described only when one is needed: not a string per request). */
  type: number;
  offset: number;
  length: number;
  /** Where the data of a successful read reply goes (its length is the data's); none for other commands. */
  dest: Uint8Array | undefined;
  /** Set when the caller gave up (timeout): the reply is still read, then dropped. */
  abandoned: boolean;
  /** When the caller gives up (monotonicMs); 0 without a timeout. */
  deadline: number;
  resolve(): void;
  reject(err: Error): void;
}

export class NbdClient {
  private readonly pending = new Map<number, Pending>();
  private nextHandle = 1;
  private failure: Error | undefined;
  private disconnecting = false;
  private readonly replyHeader = new Uint8Array(C.SIMPLE_REPLY_BYTES);
  private readonly replyView = view(this.replyHeader);
  /** The read whose data is arriving. */
  private replying: Pending | undefined;
  /** Reads pending whose data is worth a socket read of its own (ByteReader.fill's `alone`). */
  private largeReads = 0;
  /**
   * One timer for every pending request's deadline, not one per request: a timer set and
   * cleared per request was a measurable part of the export backend's CPU per byte.
   */
  private watchdog: Timer | undefined;

  private constructor(
    private readonly conn: Connection,
    readonly size: number,
    private readonly flags: number,
    private readonly maxRequestBytes: number,
    private readonly timeoutMs: number | undefined,
    /** The server's preferred request size, when it said (NBD_INFO_BLOCK_SIZE). */
    readonly preferredBlockBytes: number | undefined,
  ) {
    this.receive();
    void conn.closed.then((err) =>
      this.fail(new StreamClosedError(`NBD connection closed${err ? `: ${err.message}` : ''}`)),
    );
  }

  static async connect(stream: ByteStream, opts: NbdClientOptions = {}): Promise<NbdClient> {
    const conn = new Connection(stream);
    const name = opts.exportName ?? '';
    let timedOut = false;
    const timer = opts.timeoutMs
      ? startTimer(opts.timeoutMs, () => {
          timedOut = true;
          conn.close();
        })
      : undefined;
    try {
      const info = await clientHandshake(conn, name);
      return new NbdClient(conn, info.size, info.flags, info.maxRequestBytes, opts.timeoutMs, info.preferredBlockBytes);
    } catch (err) {
      conn.close();
      // only our own timer makes it a timeout; a peer that hangs up early is a closed stream
      if (timedOut && err instanceof StreamClosedError) {
        throw new Error(`NBD handshake for export "${name}" did not finish within ${opts.timeoutMs} ms`, {
          cause: err,
        });
      }
      throw err;
    } finally {
      timer?.cancel();
    }
  }

  get readOnly(): boolean {
    return (this.flags & C.FLAG_READ_ONLY) !== 0;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    await this.readInto(offset, out);
    return out;
  }

  /**
   * Fills dest from offset: the reply's data is copied once, from the socket into dest. Not an
   * async function: the export backend calls it per request, and each async layer is promises
   * and microtask turns more.
   */
  readInto(offset: number, dest: Uint8Array): Promise<void> {
    const outOfRange = this.rangeError('read', offset, dest.length);
    if (outOfRange) return Promise.reject(outOfRange);
    if (dest.length <= this.maxRequestBytes) return this.request(C.CMD_READ, 0, offset, dest.length, dest);
    const parts: Promise<void>[] = [];
    for (let done = 0; done < dest.length; done += this.maxRequestBytes) {
      const part = dest.subarray(done, done + this.maxRequestBytes);
      parts.push(this.request(C.CMD_READ, 0, offset + done, part.length, part));
    }
    return Promise.all(parts).then(() => undefined);
  }

  async write(offset: number, data: Uint8Array, opts: { fua?: boolean } = {}): Promise<void> {
    this.checkRange('write', offset, data.length);
    if (this.readOnly)
      throw new NbdError('EPERM', `write of ${data.length} bytes at offset ${offset}: the export is read-only`);
    const fua = opts.fua && this.flags & C.FLAG_SEND_FUA ? C.CMD_FLAG_FUA : 0;
    const count = Math.max(1, Math.ceil(data.length / this.maxRequestBytes));
    const parts: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const at = i * this.maxRequestBytes;
      const chunk = data.subarray(at, at + this.maxRequestBytes);
      parts.push(this.request(C.CMD_WRITE, fua, offset + at, chunk.length, chunk));
    }
    await Promise.all(parts);
  }

  async flush(): Promise<void> {
    if ((this.flags & C.FLAG_SEND_FLUSH) === 0) return; // the server has no cache to flush
    await this.request(C.CMD_FLUSH, 0, 0, 0, undefined);
  }

  /** Waits for outstanding requests, sends NBD_CMD_DISC and closes the connection. */
  async disconnect(): Promise<void> {
    if (!this.disconnecting && !this.failure) {
      this.disconnecting = true;
      // not for requests that timed out: a stalled server may never answer them, and the
      // disconnect (a slot's eject) must not hang on it
      while ([...this.pending.values()].some((p) => !p.abandoned) && !this.conn.isClosed) await this.conn.changed();
      this.conn.send(encodeRequest(0, C.CMD_DISC, 0, 0, 0));
      this.conn.close();
    }
    await this.conn.closed;
  }

  onClose(cb: (err?: Error) => void): void {
    void this.conn.closed.then(() => cb(this.disconnecting ? undefined : this.failure));
  }

  private checkRange(what: string, offset: number, length: number): void {
    const outOfRange = this.rangeError(what, offset, length);
    if (outOfRange) throw outOfRange;
  }

  private rangeError(what: string, offset: number, length: number): Error | undefined {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      return new RangeError(`${what}: offset and length must be non-negative integers (got ${offset}, ${length})`);
    }
    if (offset + length > this.size) {
      return new NbdError(
        'EINVAL',
        `${what} of ${length} bytes at offset ${offset} is beyond the end of the export (${this.size} bytes)`,
      );
    }
    return undefined;
  }

  /**
   * readInto without a promise (BlockBackend.readIntoThen): `done` is called once, with the error
   * when the read failed (at once when it cannot be sent).
   */
  readIntoThen(offset: number, dest: Uint8Array, done: (err?: Error) => void): void {
    const refused = this.rangeError('read', offset, dest.length) ?? this.unusable();
    if (refused) done(refused);
    else if (dest.length > this.maxRequestBytes) this.readInto(offset, dest).then(() => done(), done);
    else this.enqueue(C.CMD_READ, 0, offset, dest.length, dest, () => done(), done);
  }

  private unusable(): Error | undefined {
    return this.failure ?? (this.disconnecting ? new Error('NBD client is disconnecting') : undefined);
  }

  /** Sends one request; `data` is a write's payload or a read's destination. */
  private request(
    type: number,
    flags: number,
    offset: number,
    length: number,
    data: Uint8Array | undefined,
  ): Promise<void> {
    const refused = this.unusable();
    if (refused) return Promise.reject(refused);
    return new Promise<void>((resolve, reject) => this.enqueue(type, flags, offset, length, data, resolve, reject));
  }

  private enqueue(
    type: number,
    flags: number,
    offset: number,
    length: number,
    data: Uint8Array | undefined,
    resolve: () => void,
    reject: (err: Error) => void,
  ): void {
    const handle = this.allocateHandle();
    const reading = type === C.CMD_READ;
    const deadline = this.timeoutMs ? monotonicMs() + this.timeoutMs : 0;
    const dest = reading ? data : undefined;
    const p: Pending = { type, offset, length, dest, abandoned: false, deadline, resolve, reject };
    if (this.timeoutMs && !this.watchdog) this.armWatchdog(this.timeoutMs);
    this.pending.set(handle, p);
    if (isLarge(p)) this.largeReads++;
    this.conn.send(encodeRequest(flags, type, handle, offset, length));
    if (!reading && data && data.length > 0) this.conn.send(data);
  }

  private armWatchdog(ms: number): void {
    this.watchdog = startTimer(ms, () => this.expire());
  }

  /** Gives up on the requests past their deadline; re-arms for the next one. */
  private expire(): void {
    this.watchdog = undefined;
    const now = monotonicMs();
    let next = Infinity;
    let expired = false;
    for (const p of this.pending.values()) {
      if (p.abandoned) continue;
      if (p.deadline <= now) {
        p.abandoned = true;
        p.reject(new Error(`NBD ${describe(p)}: no reply within ${this.timeoutMs} ms`));
        expired = true;
      } else next = Math.min(next, p.deadline);
    }
    if (expired) this.conn.wake(); // a disconnect waiting for these requests stops waiting
    if (next !== Infinity) this.armWatchdog(next - now);
  }

  private allocateHandle(): number {
    let h = this.nextHandle;
    while (this.pending.has(h)) h = (h + 1) >>> 0 || 1;
    this.nextHandle = (h + 1) >>> 0 || 1;
    return h;
  }

  /**
   * Reads replies until the connection ends; anything unexpected is a hard disconnect. Without
   * promises: a header is handled within the transport's data callback, so that a read's data can
   * go from the socket straight into its destination (ByteReader.fill).
   */
  private receive(): void {
    this.guarded(() => {
      // a header is read on its own while a large read is outstanding: its data then goes straight
      // from the socket into the caller's buffer (one kernel copy, none of ours)
      const { reader } = this.conn;
      while (
        reader.fill(this.replyHeader, C.SIMPLE_REPLY_BYTES, this.onHeader, this.onReceiveError, this.largeReads > 0)
      ) {
        if (!this.takeHeader()) return;
      }
    });
  }

  private readonly onHeader = () => this.guarded(() => this.takeHeader() && this.receive());
  private readonly onReplyData = () => this.guarded(() => this.settle(this.replying!, 0) && this.receive());
  private readonly onReceiveError = (err: Error) => {
    this.fail(err);
    this.conn.close();
  };

  private guarded(step: () => unknown): void {
    try {
      step();
    } catch (err) {
      this.onReceiveError(err as Error);
    }
  }

  /** Handles the header just read: true when its reply is complete, false while its data arrives. */
  private takeHeader(): boolean {
    const h = this.replyView;
    if (h.getUint32(0) !== C.SIMPLE_REPLY_MAGIC)
      throw new Error(`NBD server sent a reply with bad magic 0x${h.getUint32(0).toString(16)}`);
    const errno = h.getUint32(4);
    const handle = h.getUint32(12);
    const p = this.pending.get(handle);
    if (!p || h.getUint32(8) !== 0) throw new Error(`NBD server replied to unknown handle ${h.getUint32(8)}:${handle}`);
    this.pending.delete(handle);
    if (isLarge(p)) this.largeReads--;
    this.conn.wake();
    if (errno === 0 && p.dest) {
      this.replying = p;
      // a caller that gave up may have reused its buffer: its data is dropped, not written
      const dest = p.abandoned ? undefined : p.dest;
      if (!this.conn.reader.fill(dest, p.dest.length, this.onReplyData, this.onReceiveError)) return false;
    }
    return this.settle(p, errno);
  }

  /** Tells the caller how its request ended (unless it gave up); always true (the reply is complete). */
  private settle(p: Pending, errno: number): true {
    this.replying = undefined;
    if (p.abandoned) return true;
    if (errno === 0) p.resolve();
    else {
      const code = nbdErrnoName(errno);
      p.reject(new NbdError(code, `NBD ${describe(p)} failed: ${code} (${errno})`));
    }
    return true;
  }

  private fail(err: Error): void {
    if (!this.failure) this.failure = err;
    this.watchdog?.cancel();
    this.watchdog = undefined;
    for (const p of this.pending.values()) {
      if (!p.abandoned) p.reject(this.failure);
    }
    this.pending.clear();
    this.largeReads = 0;
  }
}

function describe(p: Pending): string {
  return `${C.COMMAND_NAMES[p.type]} of ${p.length} bytes at offset ${p.offset}`;
}

function isLarge(p: Pending): boolean {
  return p.dest !== undefined && p.dest.length >= DIRECT_READ_MIN_BYTES;
}
