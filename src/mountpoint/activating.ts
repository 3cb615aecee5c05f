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
      imageUrl: withoutPassword(this.req.url),
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
            {
              slot,
              url: req.url,
              writable: req.writable,
              credentials: req.credentials,
              generated: req.generated,
              socket: slot.unixSocket,
            },
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

/** ImageURL is readable by every bus peer: the password of a `user:password@` in the request
 *  (refused by the source a moment later) must not be published even briefly. A user name alone
 *  (`sftp://user@host/…`) is no secret and stays. */
function withoutPassword(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // not a URL the source will take either; still, nothing between ':' and '@' goes out
    return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/]*@/i, '$1@');
  }
  if (url.password === '') return text;
  url.password = '';
  return url.href;
}
