// Memory of the long-running processes (`vmedia daemon`, `vmedia web`) on a 512 MiB BMC
// (docs/performance.md): one full collection after a busy stretch, because V8 does not collect
// an idle process. After a transfer the buffers it dropped stay in the heap (and the memory of
// their ArrayBuffers allocated) until an allocation triggers a GC, which at idle never comes.
// The young generation's size is a command line flag (--max-semi-space-size in the units: V8
// sizes its heap before any of our code runs).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface IdleCollectOptions {
  /** How often the CPU use is looked at. */
  intervalMs?: number;
  /** A share of one core above which an interval counts as busy (a transfer, a burst of requests). */
  busyShare?: number;
  /** A share below which the process counts as idle again. */
  idleShare?: number;
}

/**
 * After a busy stretch, one full collection once the process is idle again (and once after
 * start-up, which is busy). Costs one unref'd timer; returns its stop.
 */
export function collectWhenIdle(opts: IdleCollectOptions = {}): () => void {
  const intervalMs = opts.intervalMs ?? 1000;
  const busyShare = opts.busyShare ?? 0.1;
  const idleShare = opts.idleShare ?? 0.02;
  const gc = exposedGc();
  let since = process.cpuUsage();
  let busy = true;
  const timer = setInterval(() => {
    const used = process.cpuUsage(since);
    since = process.cpuUsage();
    const share = (used.user + used.system) / 1000 / intervalMs;
    if (share >= busyShare) busy = true;
    else if (busy && share < idleShare) {
      busy = false;
      gc();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** V8's gc(), without --expose-gc on the command line: exposed in a fresh context, which then
 *  holds it (the flag makes V8 install it in contexts created after it is set). */
function exposedGc(): () => void {
  const given = globalThis.gc; // node --expose-gc
  if (given) return () => void given();
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
