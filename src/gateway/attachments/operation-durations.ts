// How long finished attach and detach operations took, by operation and outcome, kept as the
// buckets of a Prometheus histogram: a scrape sees the distribution (an attach is ~1-2 s, one that
// retries takes its back-off too, a dead BMC its connection timeouts) in constant memory.

/** Upper bounds in seconds: from one Redfish round trip to a BMC that times out on every retry. */
export const DURATION_BOUNDS: readonly number[] = [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

export type Operation = 'attach' | 'detach';
export type Outcome = 'ok' | 'failed';

export interface DurationHistogram {
  operation: Operation;
  outcome: Outcome;
  /** Operations per bound of DURATION_BOUNDS, not cumulative; the last entry counts those above all bounds. */
  buckets: number[];
  count: number;
  seconds: number;
}

export class OperationDurations {
  private readonly byKey = new Map<string, DurationHistogram>();

  observe(operation: Operation, outcome: Outcome, seconds: number): void {
    const key = `${operation}:${outcome}`;
    let h = this.byKey.get(key);
    if (!h) {
      h = { operation, outcome, buckets: new Array<number>(DURATION_BOUNDS.length + 1).fill(0), count: 0, seconds: 0 };
      this.byKey.set(key, h);
    }
    const bound = DURATION_BOUNDS.findIndex((b) => seconds <= b);
    h.buckets[bound === -1 ? DURATION_BOUNDS.length : bound]!++;
    h.count++;
    h.seconds += seconds;
  }

  /** A copy, in the order the series first appeared. */
  snapshot(): DurationHistogram[] {
    return [...this.byKey.values()].map((h) => structuredClone(h));
  }
}
