// Systems/system: the host the media is presented to; its VirtualMedia collection links the
// manager's members (the same slots, as bmcweb does).
import type { WebContext } from '../context.js';
import { collection } from './collection.js';
import { sendJson } from './route.js';
import { virtualMediaCollection } from './virtual-media.js';

const SYSTEM = '/redfish/v1/Systems/system';

export function registerSystems(ctx: WebContext): void {
  const { router, routes } = ctx;
  router.get(
    '/redfish/v1/Systems',
    routes.guarded('Login', (_req, res) =>
      sendJson(
        res,
        200,
        collection('/redfish/v1/Systems', 'ComputerSystemCollection', 'Computer System Collection', [SYSTEM]),
      ),
    ),
  );
  router.get(
    SYSTEM,
    routes.guarded('Login', (_req, res) =>
      sendJson(res, 200, {
        '@odata.id': SYSTEM,
        '@odata.type': '#ComputerSystem.v1_22_0.ComputerSystem',
        Id: 'system',
        Name: 'system',
        SystemType: 'Physical',
        VirtualMedia: { '@odata.id': `${SYSTEM}/VirtualMedia` },
        Links: { ManagedBy: [{ '@odata.id': '/redfish/v1/Managers/bmc' }] },
      }),
    ),
  );
  router.get(
    `${SYSTEM}/VirtualMedia`,
    routes.guarded('Login', async (_req, res) => {
      sendJson(res, 200, virtualMediaCollection(`${SYSTEM}/VirtualMedia`, await ctx.daemon.slots()));
    }),
  );
}
