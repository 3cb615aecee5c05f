// SessionService: POST Sessions logs in and answers the X-Auth-Token (and Location); sessions
// expire after SessionTimeout seconds idle. Users see their own sessions, admins all.
import type { Response } from 'express';
import type { Principal } from '../auth/authenticate.js';
import { clientAddress } from '../auth/authenticate.js';
import type { Session } from '../auth/sessions.js';
import { roleHas } from '../auth/users.js';
import type { WebContext } from '../context.js';
import { checkBody } from './body.js';
import { collection } from './collection.js';
import { redfishError } from './messages.js';
import { sendJson } from './route.js';

const SESSIONS = '/redfish/v1/SessionService/Sessions';

function sessionJson(s: Session): object {
  return {
    '@odata.id': `${SESSIONS}/${s.id}`,
    '@odata.type': '#Session.v1_7_0.Session',
    Id: s.id,
    Name: 'User Session',
    UserName: s.user,
    SessionType: s.kind === 'cookie' ? 'WebUI' : 'Redfish',
    ClientOriginIPAddress: s.clientAddress,
    CreatedTime: s.createdAt.toISOString(),
  };
}

function visibleTo(p: Principal, s: Session): boolean {
  return s.user === p.user || roleHas(p.role, 'ConfigureUsers');
}

export function registerSessionService({ router, routes, auth }: WebContext): void {
  router.get(
    '/redfish/v1/SessionService',
    routes.guarded('Login', (_req, res) =>
      sendJson(res, 200, {
        '@odata.id': '/redfish/v1/SessionService',
        '@odata.type': '#SessionService.v1_1_8.SessionService',
        Id: 'SessionService',
        Name: 'Session Service',
        ServiceEnabled: true,
        SessionTimeout: auth.sessions.idleTimeoutSeconds,
        Sessions: { '@odata.id': SESSIONS },
      }),
    ),
  );

  router.get(
    SESSIONS,
    routes.guarded('Login', (_req, res, principal) => {
      const members = auth.sessions
        .list()
        .filter((s) => visibleTo(principal, s))
        .map((s) => `${SESSIONS}/${s.id}`);
      sendJson(res, 200, collection(SESSIONS, 'SessionCollection', 'Session Collection', members));
    }),
  );

  const login = routes.open(async (req, res) => {
    const body = checkBody(req.body, {
      fields: { UserName: 'string', Password: 'string' },
      required: ['UserName', 'Password'],
      secret: ['Password'],
    });
    const user = body.UserName as string;
    const role = await auth.login(clientAddress(req), user, body.Password as string, SESSIONS);
    const session = auth.sessions.create('token', user, role, clientAddress(req));
    if (!session)
      throw redfishError(503, 'ServiceTemporarilyUnavailable', ['60'], {
        resolution: 'Too many open sessions; delete unused ones.',
      });
    res.set('X-Auth-Token', session.token).set('Location', `${SESSIONS}/${session.id}`);
    sendJson(res, 201, sessionJson(session));
  });
  // a POST to a collection's Members is the same as to the collection (DSP0266 "Create (POST)")
  router.post(SESSIONS, login);
  router.post(`${SESSIONS}/Members`, login);

  const find = (id: string, principal: Principal): Session => {
    const session = auth.sessions.byId(id);
    if (!session || !visibleTo(principal, session)) throw redfishError(404, 'ResourceNotFound', ['Session', id]);
    return session;
  };
  router.get(
    `${SESSIONS}/:id`,
    routes.guarded('Login', (req, res, principal) => {
      sendJson(res, 200, sessionJson(find(String(req.params.id), principal)));
    }),
  );
  router.delete(
    `${SESSIONS}/:id`,
    routes.guarded('Login', (req, res: Response, principal) => {
      auth.sessions.delete(find(String(req.params.id), principal));
      res.status(204).end();
    }),
  );
}
