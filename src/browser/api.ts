// The page's HTTP client: same-origin JSON requests on the cookie session, with the XSRF token
// echoed on every state-changing request. Errors come back as ApiError with the DMTF text.
import { ApiError, apiErrorOf } from './redfish-error.js';

const XSRF_COOKIE = 'XSRF-TOKEN';
const XSRF_HEADER = 'X-XSRF-TOKEN';

function cookie(name: string): string | undefined {
  for (const part of document.cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

async function bodyOf(res: Response): Promise<unknown> {
  const type = res.headers.get('content-type') ?? '';
  if (!type.includes('json')) return undefined;
  try {
    return await res.json();
  } catch {
    return undefined;
  }
}

export class Api {
  /** The cookie survives a reload; the login reply's copy is used when the cookie is not readable. */
  private token = cookie(XSRF_COOKIE) ?? '';
  /** Called when the session has ended (expired, logged out elsewhere): the page shows the login form. */
  onUnauthorized: () => void = () => {};

  /** Who logged in last in this page, to fill in when the session has to be renewed. */
  lastUser = '';

  get xsrfToken(): string {
    return this.token;
  }

  async login(username: string, password: string): Promise<void> {
    const body = await this.request('POST', '/login', { username, password }, { expectAuth: false });
    const token = (body as { token?: unknown } | undefined)?.token;
    if (typeof token !== 'string' || token === '') throw new ApiError(500, 'The login reply carried no XSRF token.');
    this.token = token;
    this.lastUser = username;
  }

  async logout(): Promise<void> {
    try {
      await this.request('POST', '/logout', {}, { expectAuth: false });
    } finally {
      this.token = '';
    }
  }

  get(path: string): Promise<unknown> {
    return this.request('GET', path);
  }

  post(path: string, body: object): Promise<unknown> {
    return this.request('POST', path, body);
  }

  private async request(method: string, path: string, body?: object, opts = { expectAuth: true }): Promise<unknown> {
    // X-Requested-With: a 401 then carries no WWW-Authenticate, so the browser shows no Basic dialog
    const headers: Record<string, string> = { Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && this.token) headers[XSRF_HEADER] = this.token;
    let res: Response;
    try {
      res = await fetch(path, {
        method,
        headers,
        credentials: 'same-origin',
        cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(0, `The BMC did not answer (${(err as Error).message}).`);
    }
    const parsed = await bodyOf(res);
    if (res.ok) return parsed;
    if (res.status === 401 && opts.expectAuth) this.onUnauthorized();
    throw apiErrorOf(res.status, res.statusText, parsed, res.headers.get('Retry-After') ?? undefined);
  }
}
