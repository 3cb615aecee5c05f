// The bridge's writes to the slot socket. The WebSocket's payload arrives as views of its one
// reused read buffer (a TLS record, ≤ 16 KiB, at a time), so it must be copied before the next
// read: into a staging buffer, which leaves in one write at the event loop's check phase (or as
// soon as it is full). One memcpy into a reused buffer costs less than what writing each record
// on its own did (a Buffer per read, a writable-stream entry and an iovec per record).
// Staging buffers return to a free list once their write is done; back-pressure bounds how many
// are out at once (pendingBytes, see splice.ts).
import type { Socket } from 'node:net';

/** Bytes of one staging buffer: what one write to the slot socket carries at most. */
export const STAGING_BYTES = 256 * 1024;

export class SlotWriter {
  private readonly free: Buffer[] = [];
  private current?: Buffer;
  private used = 0;
  private scheduled = false;

  constructor(private readonly sock: Socket) {}

  /** Bytes taken and not yet sent: staged, or in the socket's write buffer. */
  get pendingBytes(): number {
    return this.sock.writableLength + this.used;
  }

  /** Copies `view` out (the caller may reuse it once this returns). */
  write(view: Uint8Array): void {
    let at = 0;
    while (at < view.length) {
      const buf = (this.current ??= this.free.pop() ?? Buffer.allocUnsafeSlow(STAGING_BYTES));
      const take = Math.min(view.length - at, buf.length - this.used);
      buf.set(view.subarray(at, at + take), this.used);
      this.used += take;
      at += take;
      if (this.used === buf.length) this.flush();
    }
    if (!this.scheduled && this.used > 0) {
      this.scheduled = true;
      setImmediate(this.flushScheduled);
    }
  }

  /** `cb` once what was taken so far has left (the socket's 'drain'). */
  onceDrained(cb: () => void): void {
    // staged bytes go now: 'drain' follows only a write that found the socket's buffer full
    this.flush();
    if (this.sock.writableNeedDrain) this.sock.once('drain', cb);
    else queueMicrotask(cb);
  }

  private readonly flushScheduled = (): void => {
    this.scheduled = false;
    this.flush();
  };

  private flush(): void {
    const buf = this.current;
    if (!buf || this.used === 0) return;
    const used = this.used;
    this.current = undefined;
    this.used = 0;
    // the host side is gone (the session ends the WebSocket): its bytes have nowhere to go
    if (!this.sock.writable) return void this.free.push(buf);
    this.sock.write(buf.subarray(0, used), () => this.free.push(buf));
  }
}
