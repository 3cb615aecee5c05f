// Bytes served per attachment, counted in memory and added to the database every FLUSH_MS and at
// stop(): an UPDATE per Range request was a synchronous SQLite commit (WAL, synchronous=FULL: an
// fsync) on the event loop for each of a BMC's many small reads, the media server's largest cost.
// Reads of attachments through countedBeforeReads() write the counts first, so the API sees them
// all; the database's figure lags by up to FLUSH_MS for other gateways, and a crash loses at most
// that much counting (never any serving, access or state: those are still read per request).
import type { Logger } from '../../log.js';
import type { GatewayStore } from '../db/store.js';

const FLUSH_MS = 1000;

export class ServedBytes {
  private pending = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: GatewayStore,
    private readonly log: Logger,
    flushMs = FLUSH_MS,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    // counting alone never keeps the process up; stop() writes what is left
    this.timer.unref();
  }

  add(attachmentId: string, bytes: number): void {
    this.pending.set(attachmentId, (this.pending.get(attachmentId) ?? 0) + bytes);
  }

  /** Adds the counts so far to the database (one flush at a time: a slow database never doubles a count). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const counts = this.pending;
      this.pending = new Map();
      for (const [id, bytes] of counts) {
        try {
          await this.store.addBytesServed(id, bytes);
        } catch (err) {
          // kept for the next flush: a busy or unreachable database loses no count
          this.add(id, bytes);
          this.log.warn({ attachment: id, err: (err as Error).message }, 'cannot count bytes served yet');
        }
      }
    });
    return this.flushing;
  }

  /**
   * `store`, whose attachment reads first write the counts so far: the API and /metrics show every
   * byte this gateway has served (another gateway's lag by up to a second). The writes are one per
   * attachment read since the last flush, so at most a poll's worth, never one per request.
   */
  countedBeforeReads(store: GatewayStore): GatewayStore {
    return {
      ...store,
      getAttachment: async (id) => {
        await this.flush();
        return store.getAttachment(id);
      },
      listAttachments: async (filter) => {
        await this.flush();
        return store.listAttachments(filter);
      },
    };
  }

  /** Stops the timer and writes what is left (before the store closes). */
  stop(): Promise<void> {
    clearInterval(this.timer);
    return this.flush();
  }
}
