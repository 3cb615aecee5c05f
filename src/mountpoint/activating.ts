// Activating: start the Legacy source (if any), then attach the slot socket to the host.
// Success → Active + Completion(0); any failure undoes what was set up → Ready + Completion(errno).
import { MountError } from '../errno.js';
import { ActiveState } from './active.js';
import { MountedMedia } from './mounted-media.js';
import { ReadyState } from './ready.js';
import type { MountContext, MountState } from './state.js';
import type { MountRequest } from './types.js';

export class ActivatingState implements MountState {
  readonly name = 'Activating';
  private readonly media = new MountedMedia();

  constructor(
    private readonly ctx: MountContext,
    private readonly req: MountRequest,
  ) {}

  enter(): void {
    this.ctx.armCompletionTimer();
    this.ctx.update({
      active: false,
      exitCode: -1,
      imageUrl: this.req.url,
      writeProtected: !this.req.writable,
      readBytes: 0n,
      writeBytes: 0n,
      remainingInactivityTimeout: 0,
    });
    void this.run();
  }

  leave(): void {}

  mount(): void {
    throw new MountError('EBUSY', `${this.ctx.slot.name} is still mounting; wait for Completion`);
  }

  unmount(): void {
    throw new MountError('EBUSY', `${this.ctx.slot.name} is still mounting; eject once it has completed`);
  }

  private async run(): Promise<void> {
    const { ctx, req, media } = this;
    const { slot } = ctx;
    try {
      if (slot.mode === 'legacy') {
        try {
          media.source = await ctx.sources.start(
            { slot, url: req.url, writable: req.writable, credentials: req.credentials, socket: slot.unixSocket },
            (err) => media.reportLoss(err),
          );
        } finally {
          req.credentials?.password.fill(0);
        }
        this.throwIfLost();
      }
      media.attachment = await ctx.host.attach(
        { slot, socket: slot.unixSocket, writable: req.writable, mediaType: slot.mediaType },
        (err) => media.reportLoss(err),
      );
      this.throwIfLost();
    } catch (err) {
      const failure = MountError.from(err);
      ctx.log.warn({ errno: failure.errno }, `mount failed: ${failure.message}`);
      await media.teardown(ctx.log);
      ctx.transition(new ReadyState(ctx));
      ctx.complete(failure.errno);
      return;
    }
    ctx.log.info('media is active');
    ctx.transition(new ActiveState(ctx, media));
    ctx.complete(0);
  }

  /** A source or client that died before the host saw the media is a refused connection. */
  private throwIfLost(): void {
    const lost = this.media.loss;
    if (lost)
      throw new MountError('ECONNREFUSED', `the image server stopped while mounting: ${lost.message}`, { cause: lost });
  }
}
