// Attachment windows, driven by the database: every tick reads the attachments whose window opens
// or closes by now and has the manager act on them. Nothing lives only in memory, so a gateway
// that restarts resumes the schedule where the database says it is (a window that ended while it
// was down is closed at its first tick). Several gateways on one database all tick: the manager's
// conditional state change under the BMC's lock lets exactly one of them act on a window.
import type { Logger } from '../../log.js';
import type { GatewayStore } from '../db/store.js';

export interface WindowActions {
  /** scheduled → attaching, then the attach (or failed when the device is taken or the window is over). */
  openWindow(id: string): Promise<void>;
  /** attaching/attached → detaching, then the detach. */
  closeWindow(id: string): Promise<void>;
}

export interface WindowSchedulerOptions {
  store: GatewayStore;
  actions: WindowActions;
  /** How often the database is read; a window opens and closes within one period of its time. */
  periodMs: number;
  /** Runs on every tick after the windows (the generated images of ended attachments are removed). */
  afterTick?(): Promise<void>;
  log: Logger;
}

export class WindowScheduler {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  /** Windows this process has already handed to the manager and that have not settled yet. */
  private readonly underway = new Set<string>();

  constructor(private readonly o: WindowSchedulerOptions) {}

  start(): void {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), this.o.periodMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
  }

  private tick(): Promise<void> {
    // a slow database must not pile ticks up
    this.ticking ??= this.due()
      .catch((err: unknown) => this.o.log.warn({ err: (err as Error).message }, 'scheduler tick failed'))
      .finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async due(): Promise<void> {
    const now = Date.now();
    const rows = await this.o.store.listAttachments({ states: ['scheduled', 'attaching', 'attached'] });
    for (const row of rows) {
      if (row.state === 'scheduled' && row.windowStart !== null && row.windowStart <= now)
        this.hand(row.id, () => this.o.actions.openWindow(row.id));
      else if (
        (row.state === 'attaching' || row.state === 'attached') &&
        row.windowEnd !== null &&
        row.windowEnd <= now
      )
        this.hand(row.id, () => this.o.actions.closeWindow(row.id));
    }
    await this.o.afterTick?.();
  }

  private hand(id: string, action: () => Promise<void>): void {
    if (this.underway.has(id)) return;
    this.underway.add(id);
    action()
      .catch((err: unknown) => this.o.log.warn({ attachment: id, err: (err as Error).message }, 'window action failed'))
      .finally(() => this.underway.delete(id));
  }
}
