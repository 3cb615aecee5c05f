// Follows the size of an NBD device: re-read from sysfs on every uevent for the device and on a
// slow timer, so a missed uevent (or no udev at all) only delays noticing a change.
import { MountError } from '../../errno.js';
import type { NbdDevice } from './nbd-device.js';
import type { UdevMonitor } from './udev-monitor.js';

export interface SizeWatchOptions {
  device: NbdDevice;
  monitor: UdevMonitor | undefined;
  /** Fallback re-read interval. */
  pollMs: number;
  /** Called with each size read (bytes), in order, never concurrently. */
  onSize: (bytes: number) => void;
  onError: (err: Error) => void;
}

/** Starts watching at once (first read immediately); returns the function that stops it. */
export function watchSize(opts: SizeWatchOptions): () => void {
  let stopped = false;
  let reading = false;
  let again = false;
  const check = (): void => {
    if (stopped) return;
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    opts.device
      .size()
      .then(
        (bytes) => {
          if (!stopped) opts.onSize(bytes);
        },
        (err: Error) => {
          if (!stopped) opts.onError(err);
        },
      )
      .finally(() => {
        reading = false;
        if (again) {
          again = false;
          check();
        }
      });
  };
  const unsubscribe = opts.monitor?.subscribe((event) => {
    if (event.device === opts.device.name) check();
  });
  const timer = setInterval(check, opts.pollMs);
  check();
  return () => {
    stopped = true;
    clearInterval(timer);
    unsubscribe?.();
  };
}

export interface WaitForSizeOptions {
  device: NbdDevice;
  monitor: UdevMonitor | undefined;
  pollMs: number;
  timeoutMs: number;
  /** What the wait is for, for the timeout message ("connected", "disconnected"). */
  goal: string;
  signal?: AbortSignal;
}

/** Resolves with the size once `accept` holds; rejects ETIMEDOUT, or with the abort reason. */
export function waitForSize(opts: WaitForSizeOptions, accept: (bytes: number) => boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const finish = (settle: () => void): void => {
      stop();
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      settle();
    };
    const onAbort = (): void => finish(() => reject(opts.signal!.reason as Error));
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(
            new MountError('ETIMEDOUT', `/dev/${opts.device.name} not ${opts.goal} after ${opts.timeoutMs / 1000} s`),
          ),
        ),
      opts.timeoutMs,
    );
    const stop = watchSize({
      device: opts.device,
      monitor: opts.monitor,
      pollMs: opts.pollMs,
      onSize: (bytes) => {
        if (accept(bytes)) finish(() => resolve(bytes));
      },
      onError: (err) => finish(() => reject(err)),
    });
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort);
  });
}
