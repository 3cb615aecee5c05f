// Bounds the password hashing that not-yet-verified credentials can make us do: at most `slots`
// scrypt runs at once (each is 32 MiB and a core for ~0.1 s), at most one per address prefix, and
// waiting prefixes are served in turn. A flood from one place then delays a login from elsewhere
// by one hash at most, rather than by the flood's length, and leaves cores for everything else.

/** The prefix already has as many checks waiting as it may. */
export class GateFull extends Error {
  constructor() {
    super('too many logins from this address are waiting to be checked');
    this.name = 'GateFull';
  }
}

export class HashingGate {
  /** Prefixes with a hash running (one each). */
  private readonly running = new Set<string>();
  /** Waiters by prefix; the map's order is the turn order (a served prefix goes to the back). */
  private readonly waiting = new Map<string, (() => void)[]>();

  constructor(
    private readonly slots = 2,
    private readonly maxWaitingPerPrefix = 8,
  ) {}

  /** Runs `task` in a slot; rejects with GateFull when `prefix` has too many waiting already. */
  async run<T>(prefix: string, task: () => Promise<T>): Promise<T> {
    if (this.running.size < this.slots && !this.running.has(prefix) && !this.waiting.has(prefix)) {
      this.running.add(prefix);
    } else {
      const queue = this.waiting.get(prefix) ?? [];
      if (queue.length >= this.maxWaitingPerPrefix) throw new GateFull();
      // the releaser marks the prefix running before waking us, so no newcomer takes the slot
      await new Promise<void>((resolve) => {
        queue.push(resolve);
        this.waiting.set(prefix, queue);
      });
    }
    try {
      return await task();
    } finally {
      this.running.delete(prefix);
      this.wakeNext();
    }
  }

  private wakeNext(): void {
    for (const [prefix, queue] of this.waiting) {
      if (this.running.size >= this.slots) return;
      if (this.running.has(prefix)) continue;
      const wake = queue.shift()!; // queues in the map are never empty
      this.waiting.delete(prefix);
      if (queue.length > 0) this.waiting.set(prefix, queue);
      this.running.add(prefix);
      wake();
    }
  }
}
