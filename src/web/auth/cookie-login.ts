// Cookie sessions for the browser page, as bmcweb does them: POST /login sets SESSION (HttpOnly)
// and XSRF-TOKEN (readable by the page, which echoes it in X-XSRF-TOKEN); POST /logout ends it.
import type { Response } from 'express';
import type { WebContext } from '../context.js';
import { redfishError } from '../redfish/messages.js';
import { sendJson } from '../redfish/route.js';
import { clientAddress, SESSION_COOKIE, XSRF_COOKIE } from './authenticate.js';

interface LoginBody {
  username?: unknown;
  password?: unknown;
  data?: unknown;
}

/** {"username","password"}, or the older webui form {"data": [user, password]}. */
function credentialsOf(body: LoginBody | undefined): { user: string; password: string } {
  const [user, password]: unknown[] = Array.isArray(body?.data)
    ? (body.data as unknown[])
    : [body?.username, body?.password];
  if (typeof user !== 'string' || typeof password !== 'string') {
    throw redfishError(400, 'PropertyMissing', ['username'], {
      resolution: 'Send {"username": "...", "password": "..."} as JSON.',
    });
  }
  return { user, password };
}

function setCookies(res: Response, session: string, xsrf: string, maxAge?: number): void {
  const age = maxAge === undefined ? '' : `; Max-Age=${maxAge}`;
  res.append('Set-Cookie', `${SESSION_COOKIE}=${session}; Path=/; HttpOnly; Secure; SameSite=Strict${age}`);
  res.append('Set-Cookie', `${XSRF_COOKIE}=${xsrf}; Path=/; Secure; SameSite=Strict${age}`);
}

export function registerCookieLogin({ router, routes, auth }: WebContext): void {
  router.post(
    '/login',
    routes.open(async (req, res) => {
      const { user, password } = credentialsOf(req.body as LoginBody | undefined);
      const role = await auth.login(clientAddress(req), user, password, '/login');
      const session = auth.sessions.create('cookie', user, role, clientAddress(req));
      if (!session)
        throw redfishError(503, 'ServiceTemporarilyUnavailable', ['60'], { resolution: 'Too many open sessions.' });
      setCookies(res, session.token, session.xsrfToken);
      sendJson(res, 200, { token: session.xsrfToken });
    }),
  );

  router.post(
    '/logout',
    routes.guarded('Login', (_req, res, principal) => {
      if (principal.session) auth.sessions.delete(principal.session);
      setCookies(res, '', '', 0);
      sendJson(res, 200, {});
    }),
  );
}
