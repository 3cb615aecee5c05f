// Failed logins cost delays, never lockouts. Failures are counted per user name and client
// address prefix (see address-prefix.ts), and per prefix for all names together (guessing across
// names). Past the free failures, the next try from that prefix must wait 1 s, then 2, 4, ... up
// to a cap: a guesser gets one try per cap at most, while the real admin is never refused from
// another address, and behind the guesser's own address waits the cap at worst.
import { addressPrefix } from './address-prefix.js';

export interface ThrottleOptions {
  /** Failures of one user name from one prefix that cost no wait. */
  freeFailuresPerUser: number;
  /** Failures from one prefix, all user names together, that cost no wait. */
  freeFailuresPerPrefix: number;
  /** The wait once the free failures are spent; it doubles with each further failure... */
  firstDelaySeconds: number;
  /** ...up to this. */
  maxDelaySeconds: number;
  /** A counter without failures for this long starts over. */
  forgetAfterSeconds: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = {
  freeFailuresPerUser: 4,
  freeFailuresPerPrefix: 50,
  firstDelaySeconds: 1,
  maxDelaySeconds: 30,
  forgetAfterSeconds: 900,
};

/** Counters kept at most; beyond, those idle longest are dropped (each is a few dozen bytes). */
const MAX_COUNTERS = 20_000;

interface Counter {
  failures: number;
  lastFailure: number;
}

export class LoginThrottle {
  /** By key; in order of last failure, oldest first (a failure moves its counter to the end). */
  private readonly counters = new Map<string, Counter>();

  constructor(
    private readonly opts: ThrottleOptions = DEFAULT_THROTTLE,
    private readonly now = () => Date.now(),
  ) {}

  /** Seconds the caller must wait before trying again; 0 when a try is allowed. */
  retryAfter(address: string, user: string): number {
    const prefix = addressPrefix(address);
    const waitMs = Math.max(
      this.waitMs(userKey(prefix, user), this.opts.freeFailuresPerUser),
      this.waitMs(prefixKey(prefix), this.opts.freeFailuresPerPrefix),
    );
    return Math.ceil(waitMs / 1000);
  }

  failed(address: string, user: string): void {
    const prefix = addressPrefix(address);
    for (const key of [userKey(prefix, user), prefixKey(prefix)]) {
      const counter = this.live(key) ?? { failures: 0, lastFailure: 0 };
      counter.failures++;
      counter.lastFailure = this.now();
      this.counters.delete(key);
      this.counters.set(key, counter);
    }
    for (const [key] of this.counters) {
      if (this.counters.size <= MAX_COUNTERS) break;
      this.counters.delete(key);
    }
  }

  /** The user's counter at this prefix starts over; the prefix's own does not (one known password must not reopen guessing at the others). */
  succeeded(address: string, user: string): void {
    this.counters.delete(userKey(addressPrefix(address), user));
  }

  private waitMs(key: string, free: number): number {
    const counter = this.live(key);
    if (!counter || counter.failures <= free) return 0;
    const delay = Math.min(this.opts.firstDelaySeconds * 2 ** (counter.failures - free - 1), this.opts.maxDelaySeconds);
    return Math.max(0, counter.lastFailure + delay * 1000 - this.now());
  }

  /** The counter, unless it is forgotten (then dropped). */
  private live(key: string): Counter | undefined {
    const counter = this.counters.get(key);
    if (counter && this.now() - counter.lastFailure > this.opts.forgetAfterSeconds * 1000) {
      this.counters.delete(key);
      return undefined;
    }
    return counter;
  }
}

function userKey(prefix: string, user: string): string {
  return `${prefix}\0${user}`;
}

/** Cannot collide with a user key: those always hold a NUL. */
function prefixKey(prefix: string): string {
  return prefix;
}
