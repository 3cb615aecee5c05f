// Failed logins are rate limited per client address and user name: after `maxFailures` within
// `windowSeconds`, that pair is refused without checking the password for `lockoutSeconds`.
// Keyed on the pair so a guesser elsewhere cannot lock the real admin out.
export interface ThrottleOptions {
  maxFailures: number;
  windowSeconds: number;
  lockoutSeconds: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = { maxFailures: 5, windowSeconds: 300, lockoutSeconds: 60 };

interface Entry {
  failures: number[];
  lockedUntil: number;
}

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly opts: ThrottleOptions = DEFAULT_THROTTLE,
    private readonly now = () => Date.now(),
  ) {}

  /** Seconds the caller must wait before trying again; 0 when a try is allowed. */
  retryAfter(address: string, user: string): number {
    const entry = this.entries.get(key(address, user));
    if (!entry) return 0;
    const left = entry.lockedUntil - this.now();
    return left > 0 ? Math.ceil(left / 1000) : 0;
  }

  failed(address: string, user: string): void {
    const k = key(address, user);
    const t = this.now();
    const entry = this.entries.get(k) ?? { failures: [], lockedUntil: 0 };
    entry.failures = entry.failures.filter((f) => t - f < this.opts.windowSeconds * 1000);
    entry.failures.push(t);
    if (entry.failures.length >= this.opts.maxFailures) {
      entry.lockedUntil = t + this.opts.lockoutSeconds * 1000;
      entry.failures = [];
    }
    this.entries.set(k, entry);
    if (this.entries.size > 10_000) this.prune();
  }

  succeeded(address: string, user: string): void {
    this.entries.delete(key(address, user));
  }

  private prune(): void {
    const t = this.now();
    for (const [k, e] of this.entries) {
      if (e.lockedUntil < t && e.failures.every((f) => t - f >= this.opts.windowSeconds * 1000)) this.entries.delete(k);
    }
  }
}

function key(address: string, user: string): string {
  return `${address}\0${user}`;
}
