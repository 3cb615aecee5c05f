// The one way a test waits for something it can observe: poll until it holds, with a deadline
// and a failure that says what never happened. Runs on real time even while a test mocks
// setTimeout or Date (t.mock.timers): the timer is captured at load, the deadline uses
// performance.now().
const realSetTimeout = globalThis.setTimeout;

export interface WaitOptions {
  /** Default 5000. */
  timeoutMs?: number;
  /** Pause between probes; default 20. */
  intervalMs?: number;
}

/**
 * Polls `probe` until it returns something other than undefined/false and resolves with that.
 * A probe that throws is retried. After timeoutMs it throws "timed out after N ms waiting for
 * <what>" with the probe's last error, if any; `what` may be a function, read only then (for
 * output collected meanwhile).
 */
export async function waitFor<T>(
  what: string | (() => string),
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  opts: WaitOptions = {},
): Promise<T> {
  const { timeoutMs = 5000, intervalMs = 20 } = opts;
  const started = performance.now();
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() - started > timeoutMs) {
      const description = typeof what === 'function' ? what() : what;
      const thrown = lastError instanceof Error ? lastError.message : lastError;
      const cause = lastError === undefined ? '' : ` (the probe last threw: ${String(thrown)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}${cause}`, { cause: lastError });
    }
    await new Promise((resolve) => realSetTimeout(resolve, intervalMs));
  }
}
