// Who is asking: HTTP Basic, an X-Auth-Token session, or a SESSION cookie (whose state-changing
// requests must echo the XSRF token: in X-XSRF-TOKEN, or for the WebSocket as its subprotocol,
// as webui-vue sends it). Shared by the Express routes and the WebSocket upgrade.
import type { IncomingMessage } from 'node:http';
import { redfishError, type RedfishError } from '../redfish/messages.js';
import { addressPrefix } from './address-prefix.js';
import { GateFull } from './hashing-gate.js';
import type { LoginAttempt, PasswordChecker } from './password-checker.js';
import type { LoginThrottle } from './throttle.js';
import { sameSecret, type Session, type SessionStore } from './sessions.js';
import { roleHas, type Privilege, type Role } from './users.js';

export interface Principal {
  user: string;
  role: Role;
  /** Absent for Basic auth. */
  session?: Session;
}

export const SESSION_COOKIE = 'SESSION';
export const XSRF_COOKIE = 'XSRF-TOKEN';
export const XSRF_HEADER = 'x-xsrf-token';

/** Credentials fields are bounded before any hashing work is spent on them. */
const MAX_CREDENTIAL_LENGTH = 512;

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

export function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

export class Authenticator {
  constructor(
    private readonly passwords: PasswordChecker,
    readonly sessions: SessionStore,
    private readonly throttle: LoginThrottle,
  ) {}

  /** Checks a user name and password; 401 when wrong, 429 while failures from here call for a delay. */
  async login(address: string, user: string, password: string, resource: string): Promise<Role> {
    const attempt: LoginAttempt = {
      admit: () => {
        const wait = this.throttle.retryAfter(address, user);
        if (wait > 0) {
          throw retryIn(wait, `Too many failed logins for this user from this address; retry in ${wait} seconds.`);
        }
      },
      settle: (role) => (role ? this.throttle.succeeded(address, user) : this.throttle.failed(address, user)),
    };
    attempt.admit();
    let role: Role | undefined;
    if (user.length <= MAX_CREDENTIAL_LENGTH && password.length <= MAX_CREDENTIAL_LENGTH) {
      role = await this.passwords.check(addressPrefix(address), user, password, attempt).catch((err: unknown) => {
        if (err instanceof GateFull) throw retryIn(1, 'Other logins from this address are being checked; retry.');
        throw err;
      });
    } else {
      attempt.settle(undefined);
    }
    if (!role) throw redfishError(401, 'ResourceAtUriUnauthorized', [resource, 'Invalid username or password']);
    return role;
  }

  /**
   * The principal behind a request. `xsrfToken` is what a cookie-authenticated state-changing
   * request presented (header or subprotocol); undefined means the request changes nothing.
   */
  async authenticate(req: IncomingMessage, stateChanging: boolean, xsrfToken: string | undefined): Promise<Principal> {
    const token = req.headers['x-auth-token'];
    if (typeof token === 'string' && token !== '') {
      const session = this.sessions.use(token);
      if (session?.kind === 'token') return { user: session.user, role: session.role, session };
      throw unauthorized();
    }
    const authorization = req.headers.authorization;
    if (authorization?.startsWith('Basic ')) {
      const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw unauthorized();
      const user = decoded.slice(0, colon);
      const role = await this.login(clientAddress(req), user, decoded.slice(colon + 1), req.url ?? '/');
      return { user, role };
    }
    const cookie = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    if (cookie) {
      const session = this.sessions.use(cookie);
      if (session?.kind !== 'cookie') throw unauthorized();
      if (stateChanging && !(xsrfToken && sameSecret(xsrfToken, session.xsrfToken))) {
        throw redfishError(401, 'NoValidSession', [], {
          resolution: `Cookie sessions must send the XSRF token in the X-XSRF-TOKEN header (WebSocket: as the subprotocol).`,
        });
      }
      return { user: session.user, role: session.role, session };
    }
    throw unauthorized();
  }
}

function retryIn(seconds: number, resolution: string): RedfishError {
  return redfishError(429, 'ServiceTemporarilyUnavailable', [String(seconds)], { resolution }).withHeader(
    'Retry-After',
    String(seconds),
  );
}

export function unauthorized(): RedfishError {
  return redfishError(401, 'NoValidSession');
}

export function requirePrivilege(principal: Principal, privilege: Privilege): void {
  if (!roleHas(principal.role, privilege)) throw redfishError(403, 'InsufficientPrivilege');
}
