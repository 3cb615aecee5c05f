// Deactivating: the host lets go of the device first, then the source stops; once both are
// gone → Ready + Completion(0), or Completion(ECONNREFUSED) when the media went away by itself.
import { MountError } from '../errno.js';
import type { MountedMedia } from './mounted-media.js';
import { ReadyState } from './ready.js';
import type { MountContext, MountState } from './state.js';

export type DeactivationReason = 'requested' | 'inactive' | 'lost';

export class DeactivatingState implements MountState {
  readonly name = 'Deactivating';

  constructor(
    private readonly ctx: MountContext,
    private readonly media: MountedMedia,
    private readonly reason: DeactivationReason,
  ) {}

  enter(): void {
    this.ctx.armCompletionTimer();
    this.ctx.update({ active: false, remainingInactivityTimeout: 0 });
    void this.run();
  }

  leave(): void {}

  mount(): void {
    throw new MountError('EBUSY', `${this.ctx.slot.name} is still ejecting; wait for Completion`);
  }

  unmount(): void {
    throw new MountError('EBUSY', `${this.ctx.slot.name} is already ejecting; wait for Completion`);
  }

  private async run(): Promise<void> {
    const failure = await this.media.teardown(this.ctx.log);
    this.ctx.transition(new ReadyState(this.ctx));
    if (this.reason === 'lost') this.ctx.complete('ECONNREFUSED');
    else this.ctx.complete(failure?.errno ?? 0);
  }
}
