// Memory of the long-running processes (`vmedia daemon`, `vmedia web`) on a 512 MiB BMC
// (docs/performance.md): a full collection once idle after some work, because V8 does not collect
// an idle process. After a transfer the buffers it dropped stay in the heap (and the memory of
// their ArrayBuffers allocated) until an allocation triggers a GC, which at idle never comes.
// The young generation's size is a command line flag (--max-semi-space-size in the units: V8
// sizes its heap before any of our code runs).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface IdleCollectOptions {
  /** How often the CPU use is looked at. */
  intervalMs?: number;
  /** CPU time (ms) spent since the last collection that makes the next idle interval collect:
   *  start-up, a transfer, but also the web's first D-Bus calls into a daemon that has just
   *  collected its start-up (2.7 MiB of the daemon's idle RSS were left behind by those). */
  workMs?: number;
  /** A share of one core below which an interval counts as idle. */
  idleShare?: number;
}

/**
 * Once idle after some work, one full collection (start-up counts as work). Its own CPU time is
 * not counted as work. Costs one unref'd timer; returns its stop.
 */
export function collectWhenIdle(opts: IdleCollectOptions = {}): () => void {
  const intervalMs = opts.intervalMs ?? 1000;
  const workMs = opts.workMs ?? 50;
  const idleShare = opts.idleShare ?? 0.02;
  const gc = exposedGc();
  let since = process.cpuUsage();
  let work = Infinity;
  const timer = setInterval(() => {
    const used = process.cpuUsage(since);
    const ms = (used.user + used.system) / 1000;
    work += ms;
    if (ms / intervalMs < idleShare && work >= workMs) {
      // twice: the first frees and sweeps, the second compacts the pages the first left
      // fragmented, which returns them (the daemon at idle: 2.7 then 1.0 MiB more)
      gc();
      gc();
      work = 0;
    }
    since = process.cpuUsage();
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
