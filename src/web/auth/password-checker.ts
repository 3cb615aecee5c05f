// Checks a user name and password while bounding the scrypt work strangers can make us do:
// - a credential verified moments ago is answered from the CredentialCache;
// - concurrent checks of one credential share one hash;
// - hashes run through the HashingGate (few at once, one per address prefix, prefixes in turn);
// - an unknown user name costs no hash: it fails after as long as a hash typically takes, so the
//   answer's timing still does not tell whether the name exists (the first one does hash the
//   dummy, to learn that time; every real check keeps it current).
import { setTimeout as sleep } from 'node:timers/promises';
import { CredentialCache } from './credential-cache.js';
import { HashingGate } from './hashing-gate.js';
import type { Role, UserSource } from './users.js';

/** One login attempt as the throttle sees it. */
export interface LoginAttempt {
  /** Throws when failures recorded so far call for a delay. */
  admit(): void;
  /** Records the outcome; for a hash, before its slot goes to the next check. */
  settle(role: Role | undefined): void;
}

export class PasswordChecker {
  /** Checks under way, by credential id: a second identical request waits for the first. */
  private readonly inFlight = new Map<string, Promise<Role | undefined>>();
  /** Moving average of a hash's duration here. */
  private typicalHashMs: number | undefined;

  constructor(
    private readonly users: UserSource,
    private readonly gate = new HashingGate(),
    private readonly cache = new CredentialCache(),
  ) {}

  /**
   * The user's role when the password is right; settles `attempt` either way. A hash admits the
   * attempt again once it has its slot, and settles it before giving the slot up: so concurrent
   * tries buy no more guesses than sequential ones. Rejects with GateFull when `prefix` has too
   * many checks waiting.
   */
  async check(prefix: string, user: string, password: string, attempt: LoginAttempt): Promise<Role | undefined> {
    if (!this.users.has(user) && this.typicalHashMs !== undefined) {
      await sleep(this.typicalHashMs);
      attempt.settle(undefined);
      return undefined;
    }
    const id = this.cache.idOf(user, password);
    const verified = this.cache.get(id) ?? (await this.inFlight.get(id));
    if (verified) {
      attempt.settle(verified);
      return verified;
    }
    const check = this.gate
      .run(prefix, async () => {
        attempt.admit();
        const role = await this.hash(user, password);
        attempt.settle(role);
        return role;
      })
      .then((role) => {
        if (role) this.cache.set(id, role);
        return role;
      })
      .finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, check);
    return check;
  }

  private async hash(user: string, password: string): Promise<Role | undefined> {
    const started = performance.now();
    const role = await this.users.verify(user, password);
    const ms = performance.now() - started;
    this.typicalHashMs = this.typicalHashMs === undefined ? ms : 0.8 * this.typicalHashMs + 0.2 * ms;
    return role;
  }
}
