// Systems and its one member, system (computer-system.ts): the host the media is presented to;
// its VirtualMedia collection links the manager's members (the same slots, as bmcweb does).
import type { WebContext } from '../context.js';
import { HostClient } from '../host/client.js';
import { collection } from './collection.js';
import { registerComputerSystem, SYSTEM } from './computer-system.js';
import { sendJson } from './route.js';
import { virtualMediaCollection } from './virtual-media.js';

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
  registerComputerSystem(ctx, new HostClient(ctx.daemon.bus));
  router.get(
    `${SYSTEM}/VirtualMedia`,
    routes.guarded('Login', async (_req, res) => {
      sendJson(res, 200, virtualMediaCollection(`${SYSTEM}/VirtualMedia`, await ctx.daemon.slots()));
    }),
  );
}
