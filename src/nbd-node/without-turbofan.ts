// The NBD data path's JavaScript is a few short functions per request (256 KiB each with
// nbdcopy or QEMU), while V8's optimizing compiler (TurboFan) spent more CPU compiling them than
// it saved: `vmedia nbd serve` cost ≈ 0.5 CPU-s more over its first GiB with TurboFan than
// without it, and the same per byte once everything was compiled; the daemon's export backend
// likewise (docs/performance.md). A BMC serves an image or two per boot, so that first GiB is
// most of what it moves.
import { setFlagsFromString } from 'node:v8';

/**
 * Keeps this process's JavaScript in V8's interpreter and baseline compiler (Sparkplug). Call it
 * before the data path runs: a function V8 has already optimized stays optimized. Process-wide:
 * for a process whose work is moving bytes, not one whose own JavaScript is the work.
 */
export function withoutTurbofan(): void {
  setFlagsFromString('--no-opt');
}
