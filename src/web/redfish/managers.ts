// Managers: the one BMC manager `bmc`, which owns the VirtualMedia collection and the Truststore.
import type { WebContext } from '../context.js';
import { collection } from './collection.js';
import { sendJson } from './route.js';

export const MANAGER = '/redfish/v1/Managers/bmc';

export function registerManagers({ router, routes }: WebContext): void {
  router.get(
    '/redfish/v1/Managers',
    routes.guarded('Login', (_req, res) =>
      sendJson(res, 200, collection('/redfish/v1/Managers', 'ManagerCollection', 'Manager Collection', [MANAGER])),
    ),
  );
  router.get(
    MANAGER,
    routes.guarded('Login', (_req, res) =>
      sendJson(res, 200, {
        '@odata.id': MANAGER,
        '@odata.type': '#Manager.v1_19_0.Manager',
        Id: 'bmc',
        Name: 'OpenBMC Manager',
        ManagerType: 'BMC',
        VirtualMedia: { '@odata.id': `${MANAGER}/VirtualMedia` },
        Links: { ManagerForServers: [{ '@odata.id': '/redfish/v1/Systems/system' }] },
      }),
    ),
  );
}
