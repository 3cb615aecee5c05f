// Ready: nothing mounted. Mount starts Activating; there is nothing to Unmount.
import { MountError } from '../errno.js';
import { ActivatingState } from './activating.js';
import type { MountContext, MountState } from './state.js';
import type { MountRequest } from './types.js';

export class ReadyState implements MountState {
  readonly name = 'Ready';
  constructor(private readonly ctx: MountContext) {}

  enter(): void {
    this.ctx.update({ active: false, imageUrl: '', writeProtected: true, remainingInactivityTimeout: 0 });
  }

  leave(): void {}

  mount(req: MountRequest): void {
    this.ctx.transition(new ActivatingState(this.ctx, req));
  }

  unmount(): void {
    throw new MountError('EPERM', `${this.ctx.slot.name} has no media to eject`);
  }
}
