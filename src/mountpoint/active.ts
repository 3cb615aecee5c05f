// Active: the host sees the media. Reads the IO counters (Stats, inactivity); Unmount, the
// inactivity timeout or a lost source/device start Deactivating.
import { MountError } from '../errno.js';
import { DeactivatingState, type DeactivationReason } from './deactivating.js';
import type { MountedMedia } from './mounted-media.js';
import type { MountContext, MountState } from './state.js';

export class ActiveState implements MountState {
  readonly name = 'Active';
  private poll?: NodeJS.Timeout;
  private lastIo = { read: -1, write: -1, at: Date.now() };

  constructor(
    private readonly ctx: MountContext,
    private readonly media: MountedMedia,
  ) {}

  enter(): void {
    this.ctx.update({ active: true });
    this.media.onLoss((err) => {
      if (!this.ctx.isCurrent(this)) return;
      this.ctx.log.warn(`media lost while active: ${err.message}`);
      this.deactivate('lost');
    });
    this.readCounters();
    this.poll = setInterval(() => this.readCounters(), this.ctx.statsIntervalMs);
  }

  leave(): void {
    clearInterval(this.poll);
  }

  mount(): void {
    throw new MountError('EPERM', `${this.ctx.slot.name} already has media; eject it first`);
  }

  unmount(): void {
    this.deactivate('requested');
  }

  private deactivate(reason: DeactivationReason): void {
    this.ctx.transition(new DeactivatingState(this.ctx, this.media, reason));
  }

  /** Stats from the backend's counters; inactivity counts from their last change, and not while
   *  the host waits on a request (a slow source is not an idle host). */
  private readCounters(): void {
    const attachment = this.media.attachment;
    if (!attachment) return;
    const { readBytes, writeBytes, inFlight } = attachment.stats();
    const now = Date.now();
    if (readBytes !== this.lastIo.read || writeBytes !== this.lastIo.write || inFlight > 0) {
      this.lastIo = { read: readBytes, write: writeBytes, at: now };
      this.ctx.update({ readBytes: BigInt(readBytes), writeBytes: BigInt(writeBytes) });
    }
    const limit = this.ctx.inactivityTimeout;
    if (limit === 0) return;
    const remaining = Math.max(0, Math.ceil(limit - (now - this.lastIo.at) / 1000));
    this.ctx.update({ remainingInactivityTimeout: remaining });
    if (remaining === 0) {
      this.ctx.log.info(`no IO for ${limit} s: ejecting`);
      this.deactivate('inactive');
    }
  }
}
