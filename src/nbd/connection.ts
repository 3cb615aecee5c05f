// One end of an NBD connection: exact-length reads, writes that track back-pressure, and
// waiting for the transport to drain. Shared by the server and the client.
import { ByteReader } from './byte-reader.js';
import type { ByteStream } from './stream.js';

export class Connection {
  readonly reader: ByteReader;
  private writeBlocked = false;
  private closedFlag = false;
  private waiters: Array<() => void> = [];
  readonly closed: Promise<Error | undefined>;

  constructor(readonly stream: ByteStream) {
    this.reader = new ByteReader(stream);
    this.closed = new Promise((resolve) => {
      stream.onClose((err) => {
        this.closedFlag = true;
        this.wake();
        resolve(err);
      });
    });
    stream.onDrain(() => {
      this.writeBlocked = false;
      this.wake();
    });
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** True while the transport has more queued than it wants (write returned false, no drain yet). */
  get isWriteBlocked(): boolean {
    return this.writeBlocked;
  }

  send(data: Uint8Array, onWritten?: () => void): void {
    if (this.closedFlag) return; // the peer is gone: the reply has nowhere to go
    if (!this.stream.write(data, onWritten)) this.writeBlocked = true;
  }

  /** Resolves once the transport has drained (or the connection closed). */
  async drained(): Promise<void> {
    while (this.writeBlocked && !this.closedFlag) await this.changed();
  }

  /** Resolves at the next state change (drain, close, or an explicit wake()). */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }

  close(): void {
    if (!this.closedFlag) this.stream.close();
  }
}
