// Token buckets keyed by a caller (a token's name, a source address): each key may spend `burst`
// requests at once and earns `perSecond` back. The API spends one per request per token, and one
// per failed authentication per source address (so a token or password guesser is slowed while a
// client that authenticates is not); the media server spends one per failed access per address.
import type { NextFunction, Request, Response } from 'express';
import { GatewayError } from '../errors.js';

export interface RateLimit {
  /** Requests earned back per second; 0 turns the limit off. */
  perSecond: number;
  /** Requests a key may make at once. */
  burst: number;
}

/** The defaults of `vmedia gateway`'s --rate-limit-* options. */
export const DEFAULT_LIMITS = {
  /** Requests per authenticated token. */
  token: { perSecond: 100, burst: 1000 },
  /** Failed authentications per source address on the API: 20, then one per 5 s. */
  authFailures: { perSecond: 0.2, burst: 20 },
  /** Failed accesses per source address on the media server: 50, then one per 2 s. */
  mediaFailures: { perSecond: 0.5, burst: 50 },
} satisfies Record<string, RateLimit>;

/** "RATE/BURST" (requests per second, then at once), e.g. "50/200"; "0" turns the limit off. */
export function parseRateLimit(text: string): RateLimit {
  if (text === '0') return { perSecond: 0, burst: 0 };
  const m = /^(\d+(?:\.\d+)?)\/(\d+)$/.exec(text);
  if (!m || !(Number(m[1]) > 0) || !(Number(m[2]) >= 1))
    throw new Error(`"${text}": RATE/BURST (requests per second > 0, then at once >= 1), or 0 for no limit`);
  return { perSecond: Number(m[1]), burst: Number(m[2]) };
}

export const formatRateLimit = (l: RateLimit) => `${l.perSecond}/${l.burst}`;

interface Bucket {
  tokens: number;
  at: number;
}

/** Past this many keys, the full buckets (keys idle long enough to have earned all back) are forgotten. */
const SWEEP_AT = 10_000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly limit: RateLimit,
    private readonly now: () => number = Date.now,
  ) {}

  get enabled(): boolean {
    return this.limit.perSecond > 0;
  }

  /** Seconds until `key` may make a request (0: now), without spending. */
  wait(key: string): number {
    if (!this.enabled) return 0;
    const tokens = this.refilled(key).tokens;
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.limit.perSecond));
  }

  /** Spends one request of `key`; answers the seconds to wait when there was none left (0: spent). */
  take(key: string): number {
    const wait = this.wait(key);
    if (wait === 0 && this.enabled) this.refilled(key).tokens -= 1;
    return wait;
  }

  private refilled(key: string): Bucket {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= SWEEP_AT) this.sweep(now);
      bucket = { tokens: this.limit.burst, at: now };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.limit.perSecond);
    bucket.at = now;
    return bucket;
  }

  private sweep(now: number): void {
    for (const [key, b] of this.buckets)
      if (b.tokens + ((now - b.at) / 1000) * this.limit.perSecond >= this.limit.burst) this.buckets.delete(key);
  }
}

export function tooManyRequests(res: Response, waitSeconds: number, what: string): GatewayError {
  res.setHeader('Retry-After', String(waitSeconds));
  return new GatewayError(429, 'TooManyRequests', `${what}: retry after ${waitSeconds} s`);
}

/** The address a request came from, IPv4-mapped IPv6 written as IPv4. */
export function sourceAddress(req: { socket: { remoteAddress?: string | undefined } }): string {
  return (req.socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}

/**
 * What failures from an address are counted under: an IPv4 address, or an IPv6 address's /64 (a
 * host picks freely within its /64: counted per address, a guesser would never run out, and the
 * buckets would fill the memory).
 */
export function addressKey(address: string): string {
  const v6 = address.replace(/%.*$/, '');
  if (!v6.includes(':')) return address;
  const [head = '', tail] = v6.split('::');
  const groups = head === '' ? [] : head.split(':');
  const rest = tail === undefined || tail === '' ? [] : tail.split(':');
  const all =
    tail === undefined ? groups : [...groups, ...Array<string>(8 - groups.length - rest.length).fill('0'), ...rest];
  return `${all
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, '').toLowerCase())
    .join(':')}::/64`;
}

/** After authentication: one request of the caller's token. */
export function limitPerToken(limiter: RateLimiter, nameOf: (res: Response) => string) {
  return (_req: Request, res: Response, next: NextFunction) => {
    const wait = limiter.take(nameOf(res));
    if (wait > 0) throw tooManyRequests(res, wait, 'too many requests with this token');
    next();
  };
}
