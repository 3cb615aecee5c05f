// AccountService: the users of the users file (or the default admin) as ManagerAccounts, and the
// three standard roles with their privileges. Read-only over Redfish: users are managed in the
// users file, so POST, PATCH and DELETE are answered 405.
import type { Principal } from '../auth/authenticate.js';
import { privilegesOf, roleHas, ROLES, type Role } from '../auth/users.js';
import type { WebContext } from '../context.js';
import { collection } from './collection.js';
import { redfishError } from './messages.js';
import { sendJson } from './route.js';
import { TOP_LEVEL_RESOURCES } from './service-root.js';

const ACCOUNT_SERVICE = TOP_LEVEL_RESOURCES.AccountService;
const ACCOUNTS = `${ACCOUNT_SERVICE}/Accounts`;
const ROLES_URI = `${ACCOUNT_SERVICE}/Roles`;

function accountJson(name: string, role: Role): object {
  return {
    '@odata.id': `${ACCOUNTS}/${name}`,
    '@odata.type': '#ManagerAccount.v1_12_0.ManagerAccount',
    Id: name,
    Name: 'User Account',
    UserName: name,
    RoleId: role,
    Enabled: true,
    // failed logins cost delays, never a lockout
    Locked: false,
    Password: null,
    AccountTypes: ['Redfish', 'WebUI'],
    Links: { Role: { '@odata.id': `${ROLES_URI}/${role}` } },
  };
}

function roleJson(role: Role): object {
  return {
    '@odata.id': `${ROLES_URI}/${role}`,
    '@odata.type': '#Role.v1_3_2.Role',
    Id: role,
    Name: `${role} Role`,
    RoleId: role,
    IsPredefined: true,
    AssignedPrivileges: privilegesOf(role),
    OemPrivileges: [],
  };
}

/** Users see their own account; user administrators see all. */
function visibleTo(p: Principal, name: string): boolean {
  return name === p.user || roleHas(p.role, 'ConfigureUsers');
}

export function registerAccountService({ router, routes, users }: WebContext): void {
  router.get(
    ACCOUNT_SERVICE,
    routes.guarded('Login', (_req, res) =>
      sendJson(res, 200, {
        '@odata.id': ACCOUNT_SERVICE,
        '@odata.type': '#AccountService.v1_15_0.AccountService',
        Id: 'AccountService',
        Name: 'Account Service',
        Description: 'The users of the users file; they are changed there, not over Redfish.',
        ServiceEnabled: true,
        LocalAccountAuth: 'Enabled',
        HTTPBasicAuth: 'Enabled',
        Accounts: { '@odata.id': ACCOUNTS },
        Roles: { '@odata.id': ROLES_URI },
      }),
    ),
  );
  router.get(
    ACCOUNTS,
    routes.guarded('Login', (_req, res, principal) => {
      const members = users
        .list()
        .filter((u) => visibleTo(principal, u.name))
        .map((u) => `${ACCOUNTS}/${u.name}`);
      sendJson(res, 200, collection(ACCOUNTS, 'ManagerAccountCollection', 'Accounts Collection', members));
    }),
  );
  router.get(
    `${ACCOUNTS}/:id`,
    routes.guarded('Login', (req, res, principal) => {
      const id = String(req.params.id);
      const user = users.list().find((u) => u.name === id);
      if (!user || !visibleTo(principal, id)) throw redfishError(404, 'ResourceNotFound', ['ManagerAccount', id]);
      sendJson(res, 200, accountJson(user.name, user.role));
    }),
  );
  router.get(
    ROLES_URI,
    routes.guarded('Login', (_req, res) =>
      sendJson(
        res,
        200,
        collection(
          ROLES_URI,
          'RoleCollection',
          'Roles Collection',
          ROLES.map((r) => `${ROLES_URI}/${r}`),
        ),
      ),
    ),
  );
  router.get(
    `${ROLES_URI}/:id`,
    routes.guarded('Login', (req, res) => {
      const id = String(req.params.id);
      const role = ROLES.find((r) => r === id);
      if (!role) throw redfishError(404, 'ResourceNotFound', ['Role', id]);
      sendJson(res, 200, roleJson(role));
    }),
  );
}
