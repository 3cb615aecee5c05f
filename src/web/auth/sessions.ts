// Logged-in sessions (Redfish SessionService): an X-Auth-Token for API clients, or a cookie plus
// an XSRF token for the browser page. Idle sessions expire; state lives only in this process.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Role } from './users.js';

export type SessionKind = 'token' | 'cookie';

export interface Session {
  /** Public id: the last element of /redfish/v1/SessionService/Sessions/<id>. */
  id: string;
  /** Secret: X-Auth-Token value or SESSION cookie value. */
  token: string;
  /** Secret the page echoes in X-XSRF-TOKEN (cookie sessions only). */
  xsrfToken: string;
  kind: SessionKind;
  user: string;
  role: Role;
  clientAddress: string;
  createdAt: Date;
  lastUsed: number;
}

function secret(): string {
  return randomBytes(24).toString('base64url');
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class SessionStore {
  private readonly byToken = new Map<string, Session>();

  constructor(
    readonly idleTimeoutSeconds: number,
    readonly maxSessions = 64,
    readonly maxSessionsPerUser = 16,
    private readonly now = () => Date.now(),
  ) {}

  /**
   * Undefined when the table is full (after dropping expired sessions). A user already holding
   * `maxSessionsPerUser` loses its least recently used session instead of being refused: one
   * account can then never fill the table for the others, and a client that never logs out (a
   * script creating a session per run) keeps working rather than locking its own user out until
   * the idle timeout. Ending one's own sessions grants nothing new: users may DELETE them anyway.
   */
  create(kind: SessionKind, user: string, role: Role, clientAddress: string): Session | undefined {
    this.expire();
    const own = [...this.byToken.values()].filter((s) => s.user === user);
    if (own.length >= this.maxSessionsPerUser) {
      this.delete(own.reduce((lru, s) => (s.lastUsed < lru.lastUsed ? s : lru)));
    }
    if (this.byToken.size >= this.maxSessions) return undefined;
    const session: Session = {
      id: randomBytes(8).toString('hex'),
      token: secret(),
      xsrfToken: secret(),
      kind,
      user,
      role,
      clientAddress,
      createdAt: new Date(this.now()),
      lastUsed: this.now(),
    };
    this.byToken.set(session.token, session);
    return session;
  }

  /** The live session for a token, refreshing its idle timer. */
  use(token: string): Session | undefined {
    const session = this.byToken.get(token);
    if (!session) return undefined;
    if (this.isExpired(session)) {
      this.byToken.delete(token);
      return undefined;
    }
    session.lastUsed = this.now();
    return session;
  }

  list(): Session[] {
    this.expire();
    return [...this.byToken.values()];
  }

  byId(id: string): Session | undefined {
    return this.list().find((s) => s.id === id);
  }

  delete(session: Session): void {
    this.byToken.delete(session.token);
  }

  private isExpired(s: Session): boolean {
    return this.now() - s.lastUsed > this.idleTimeoutSeconds * 1000;
  }

  private expire(): void {
    for (const [token, s] of this.byToken) if (this.isExpired(s)) this.byToken.delete(token);
  }
}
