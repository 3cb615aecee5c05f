// Turns a stream of arbitrary chunks into exact-length reads, with bounded buffering: the
// stream is paused whenever more than the high-water mark is queued, so a peer that sends faster
// than we process cannot grow memory.
//
// Without garbage per byte: a transport may hand over the same buffer for every chunk (a Node
// socket reading into one reused buffer), so a chunk is only read during onData. Bytes a pending
// readInto() waits for are copied straight into its destination (an NBD reply's payload lands in
// the caller's buffer with one copy); only bytes nobody waits for yet are copied into one staging
// buffer owned by the reader, which grows to the high-water mark and is then reused.
//
// Without a copy at all where the transport allows it: a transport that reads into memory we
// choose (ByteStream.readTarget) is given the rest of a pending read's destination, so a large
// payload goes from the kernel straight into it. fill() completes synchronously from the
// transport's data callback, so that a consumer parsing a header names the payload's destination
// before the transport's next read (a promise would only resume after it).
import { StreamClosedError, type ByteStream } from './stream.js';

interface Waiter {
  /** Where the bytes go; undefined: they are dropped (discard). */
  dest: Uint8Array | undefined;
  need: number;
  filled: number;
  /** Read on its own when the transport can (a header before a large payload: see fill). */
  alone: boolean;
  done(): void;
  failed(err: Error): void;
}

/** Staging is allocated on first need at this size, and shrunk back to it when it grew past twice the high-water mark. */
const INITIAL_STAGING_BYTES = 16 * 1024;
const EMPTY = new Uint8Array(0);
/** Below this, a read of its own into the destination costs more (a syscall) than the copy it saves. */
export const DIRECT_READ_MIN_BYTES = 16 * 1024;

export class ByteReader {
  private staging = EMPTY;
  private head = 0; // staging[head, tail) is received and not yet read
  private tail = 0;
  private waiter: Waiter | undefined;
  private ended: Error | undefined;
  private paused = false;

  constructor(
    private readonly stream: ByteStream,
    private readonly highWater = 256 * 1024,
  ) {
    stream.onData((d) => this.push(d));
    stream.onClose((err) => this.end(err));
    stream.readTarget?.(() => this.directTarget());
  }

  /** Bytes received and not yet read. */
  get buffered(): number {
    return this.tail - this.head;
  }

  /** The next n bytes, in a buffer of their own. */
  async read(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    await this.readInto(out);
    return out;
  }

  /** Fills dest with the next dest.length bytes. dest must not be reused before this settles. */
  readInto(dest: Uint8Array): Promise<void> {
    return this.wait(dest, dest.length);
  }

  /** Consume and drop the next n bytes without holding them. */
  discard(n: number): Promise<void> {
    return this.wait(undefined, n);
  }

  /**
   * Fills dest (or drops `need` bytes when dest is undefined) without a promise: true when the
   * bytes were already here. Otherwise false, and `done` is called once they arrived, from within
   * the transport's data callback, or `failed` when the stream ends first (at once when it has
   * ended). A `done` that calls fill() again is fed the rest of the same chunk, in order.
   * `alone`: have the transport read just these bytes, when it can: a header that a large payload
   * follows, so that the payload is not read into the transport's buffer along with it (and
   * copied), but into the destination its reader names after the header.
   */
  fill(
    dest: Uint8Array | undefined,
    need: number,
    done: () => void,
    failed: (err: Error) => void,
    alone = false,
  ): boolean {
    if (this.waiter) throw new Error('ByteReader: concurrent reads');
    const staged = Math.min(need, this.buffered);
    if (dest && staged > 0) dest.set(this.staging.subarray(this.head, this.head + staged));
    this.consumed(staged);
    if (staged === need) {
      this.updateFlow();
      return true;
    }
    if (this.ended) {
      failed(this.closedError(need - staged));
      return false;
    }
    // staging is empty now: every byte that arrives goes to dest until it is full
    this.waiter = { dest, need, filled: staged, alone, done, failed };
    this.updateFlow();
    return false;
  }

  private wait(dest: Uint8Array | undefined, need: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.fill(dest, need, resolve, reject)) resolve();
    });
  }

  /** Where the transport's next read may land: the rest of a pending read's destination, when large or alone. */
  private directTarget(): Uint8Array | undefined {
    const w = this.waiter;
    if (!w?.dest || (!w.alone && w.need - w.filled < DIRECT_READ_MIN_BYTES)) return undefined;
    return w.dest.subarray(w.filled, w.need);
  }

  private push(data: Uint8Array): void {
    if (this.ended || data.length === 0) return;
    let used = 0;
    for (let w = this.waiter; w && used < data.length; w = this.waiter) {
      const n = Math.min(w.need - w.filled, data.length - used);
      if (w.dest && !(data.buffer === w.dest.buffer && data.byteOffset + used === w.dest.byteOffset + w.filled)) {
        w.dest.set(used === 0 && n === data.length ? data : data.subarray(used, used + n), w.filled);
      } // else the transport read these bytes into dest itself (directTarget)
      w.filled += n;
      used += n;
      if (w.filled < w.need) break;
      this.waiter = undefined;
      w.done(); // may call fill(): its waiter takes the rest of this chunk first
    }
    if (used < data.length) this.stage(used === 0 ? data : data.subarray(used));
    this.updateFlow();
  }

  /** Copies bytes nobody waits for yet to the end of staging (moving or growing it when full). */
  private stage(data: Uint8Array): void {
    const queued = this.buffered;
    if (this.tail + data.length > this.staging.length) {
      if (queued + data.length <= this.staging.length) {
        this.staging.copyWithin(0, this.head, this.tail);
      } else {
        const grown = new Uint8Array(Math.max(INITIAL_STAGING_BYTES, 2 * this.staging.length, queued + data.length));
        grown.set(this.staging.subarray(this.head, this.tail));
        this.staging = grown;
      }
      this.head = 0;
      this.tail = queued;
    }
    this.staging.set(data, this.tail);
    this.tail += data.length;
  }

  private consumed(n: number): void {
    this.head += n;
    if (this.head !== this.tail) return;
    this.head = this.tail = 0;
    // a burst (a large write payload, a tiny high-water mark's test) does not keep its memory
    if (this.staging.length > Math.max(INITIAL_STAGING_BYTES, 2 * this.highWater)) this.staging = EMPTY;
  }

  private end(err?: Error): void {
    if (this.ended) return;
    this.ended = err ?? new StreamClosedError();
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.failed(this.closedError(w.need - w.filled));
    }
  }

  private closedError(need: number): Error {
    const cause = this.ended instanceof StreamClosedError ? undefined : this.ended;
    return new StreamClosedError(
      `connection closed while ${need} more byte(s) were expected${cause ? `: ${cause.message}` : ''}`,
      { cause },
    );
  }

  /** Pause while more than high water is staged, else resume. A pending read's bytes are never
   *  staged (they go to its destination), so a large read never stops the stream. */
  private updateFlow(): void {
    const enough = this.buffered >= this.highWater;
    if (enough && !this.paused) {
      this.paused = true;
      this.stream.pause();
    } else if (!enough && this.paused) {
      this.paused = false;
      this.stream.resume();
    }
  }
}
