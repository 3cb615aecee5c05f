// Throughput over a short sliding window of (time, total bytes) samples: steady enough to
// read, quick to fall to zero when the BMC stops reading.

const WINDOW_MS = 2000;

export class RateMeter {
  private samples: Array<{ at: number; total: number }> = [];

  /** Records the running total at time `at` (ms) and returns bytes per second over the window. */
  sample(at: number, total: number): number {
    this.samples.push({ at, total });
    while (this.samples.length > 2 && at - this.samples[1]!.at >= WINDOW_MS) this.samples.shift();
    const first = this.samples[0]!; // just pushed one
    const elapsed = at - first.at;
    return elapsed > 0 ? ((total - first.total) * 1000) / elapsed : 0;
  }
}
