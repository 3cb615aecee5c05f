// Turns a stream of arbitrary chunks into exact-length reads, with bounded buffering: the
// stream is paused whenever more than the high-water mark (or the current read's need) is
// queued, so a peer that sends faster than we process cannot grow memory.
import { StreamClosedError, type ByteStream } from './stream.js';

interface Waiter {
  need: number;
  discard: boolean;
  resolve(data: Uint8Array): void;
  reject(err: Error): void;
}

const EMPTY = new Uint8Array(0);

export class ByteReader {
  // a queue without Array.shift(): a peer sending many tiny frames must not make reads quadratic
  private chunks: Uint8Array[] = [];
  private first = 0; // index of the oldest unread chunk
  private head = 0; // bytes of chunks[first] already consumed
  private queued = 0;
  private waiter: Waiter | undefined;
  private ended: Error | undefined;
  private paused = false;

  constructor(
    private readonly stream: ByteStream,
    private readonly highWater = 256 * 1024,
  ) {
    stream.onData((d) => this.push(d));
    stream.onClose((err) => this.end(err));
  }

  /** Bytes received and not yet read. */
  get buffered(): number {
    return this.queued;
  }

  /** The next n bytes (a view into the received chunk when possible, else a copy). */
  read(n: number): Promise<Uint8Array> {
    if (this.waiter) return Promise.reject(new Error('ByteReader: concurrent reads'));
    if (this.queued >= n) {
      const data = this.take(n);
      this.updateFlow(0);
      return Promise.resolve(data);
    }
    if (this.ended) return Promise.reject(this.closedError(n));
    return new Promise((resolve, reject) => {
      this.waiter = { need: n, discard: false, resolve, reject };
      this.updateFlow(n);
    });
  }

  /** Consume and drop the next n bytes without ever holding more than one chunk of them. */
  async discard(n: number): Promise<void> {
    if (this.waiter) throw new Error('ByteReader: concurrent reads');
    const left = n - this.drop(n);
    this.updateFlow(0);
    if (left === 0) return;
    if (this.ended) throw this.closedError(left);
    await new Promise<Uint8Array>((resolve, reject) => {
      this.waiter = { need: left, discard: true, resolve, reject };
      this.updateFlow(1);
    });
  }

  private push(data: Uint8Array): void {
    if (this.ended || data.length === 0) return;
    this.chunks.push(data);
    this.queued += data.length;
    const w = this.waiter;
    if (w) {
      if (w.discard) {
        w.need -= this.drop(w.need);
        if (w.need === 0) {
          this.waiter = undefined;
          w.resolve(EMPTY);
        }
      } else if (this.queued >= w.need) {
        this.waiter = undefined;
        w.resolve(this.take(w.need));
      }
    }
    this.updateFlow(this.waiter?.discard ? 1 : (this.waiter?.need ?? 0));
  }

  private end(err?: Error): void {
    if (this.ended) return;
    this.ended = err ?? new StreamClosedError();
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.reject(this.closedError(w.need));
    }
  }

  private closedError(need: number): Error {
    const cause = this.ended instanceof StreamClosedError ? undefined : this.ended;
    return new StreamClosedError(
      `connection closed while ${need} more byte(s) were expected${cause ? `: ${cause.message}` : ''}`,
      { cause },
    );
  }

  /** Pause while enough is queued for the pending need (or more than high water), else resume. */
  private updateFlow(need: number): void {
    const enough = this.queued >= Math.max(this.highWater, need);
    if (enough && !this.paused) {
      this.paused = true;
      this.stream.pause();
    } else if (!enough && this.paused) {
      this.paused = false;
      this.stream.resume();
    }
  }

  private take(n: number): Uint8Array {
    this.queued -= n;
    if (n === 0) return EMPTY;
    const c0 = this.chunks[this.first]!; // queued >= n > 0
    if (c0.length - this.head >= n) {
      const out = c0.subarray(this.head, this.head + n);
      this.head += n;
      if (this.head === c0.length) this.shift();
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[this.first]!;
      const m = Math.min(c.length - this.head, n - filled);
      out.set(c.subarray(this.head, this.head + m), filled);
      filled += m;
      this.head += m;
      if (this.head === c.length) this.shift();
    }
    return out;
  }

  /** Drops up to n queued bytes; returns how many were dropped. */
  private drop(n: number): number {
    let dropped = 0;
    while (dropped < n && this.first < this.chunks.length) {
      const c = this.chunks[this.first]!;
      const m = Math.min(c.length - this.head, n - dropped);
      dropped += m;
      this.head += m;
      if (this.head === c.length) this.shift();
    }
    this.queued -= dropped;
    return dropped;
  }

  private shift(): void {
    this.first++;
    this.head = 0;
    if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    } else if (this.first >= 1024 && this.first * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }
}
