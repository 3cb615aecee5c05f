// Credentials verified moments ago, so a Basic client (which sends its password with every
// request) costs one scrypt a minute rather than one per request. Kept by an HMAC of user and
// password under a key that lives only in this process: neither the password nor anything that
// could be tested against it offline is stored. Only successes are kept.
import { createHmac, randomBytes } from 'node:crypto';
import type { Role } from './users.js';

interface Verified {
  role: Role;
  expires: number;
}

export class CredentialCache {
  private readonly key = randomBytes(32);
  /** In insertion order, oldest first. */
  private readonly entries = new Map<string, Verified>();

  constructor(
    private readonly ttlMs = 60_000,
    private readonly maxEntries = 256,
    private readonly now = () => Date.now(),
  ) {}

  /** What the cache knows this credential by. */
  idOf(user: string, password: string): string {
    return createHmac('sha256', this.key)
      .update(JSON.stringify([user, password]))
      .digest('base64');
  }

  get(id: string): Role | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (entry.expires > this.now()) return entry.role;
    this.entries.delete(id);
    return undefined;
  }

  set(id: string, role: Role): void {
    this.entries.delete(id);
    this.entries.set(id, { role, expires: this.now() + this.ttlMs });
    for (const [oldest] of this.entries) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(oldest);
    }
  }
}
