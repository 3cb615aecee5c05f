// What a mount has set up (the Legacy source, the host attachment) and the first report that it
// went away. It passes from Activating to Active to Deactivating; a loss reported while no state
// listens yet (between attach and Active) is kept and delivered to the next listener.
import { MountError } from '../errno.js';
import type { Logger } from '../log.js';
import type { HostAttachment } from '../host/types.js';
import type { RunningSource } from '../sources/types.js';

export class MountedMedia {
  source?: RunningSource;
  attachment?: HostAttachment;
  private lost?: MountError;
  private listener?: (err: MountError) => void;

  /** Called by the source's onExit and the backend's onLost; only the first report counts. */
  reportLoss(err: MountError): void {
    if (this.lost) return;
    this.lost = err;
    this.listener?.(err);
  }

  get loss(): MountError | undefined {
    return this.lost;
  }

  onLoss(listener: (err: MountError) => void): void {
    this.listener = listener;
    const lost = this.lost;
    if (lost) queueMicrotask(() => listener(lost));
  }

  /** Host side first (the host must stop using the device), then the source; returns the first failure. */
  async teardown(log: Logger): Promise<MountError | undefined> {
    this.listener = undefined;
    let failure: MountError | undefined;
    for (const [what, stop] of [
      ['host attachment', () => this.attachment?.detach()],
      ['source', () => this.source?.stop()],
    ] as const) {
      try {
        await stop();
      } catch (err) {
        const e = MountError.from(err); // unexpected failures below the mount point are EIO
        log.error({ err: e.message }, `tearing down the ${what} failed`);
        failure ??= e;
      }
    }
    this.attachment = undefined;
    this.source = undefined;
    return failure;
  }
}
