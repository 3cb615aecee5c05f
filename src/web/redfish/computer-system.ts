// Systems/system, the host the media is presented to, read and changed over D-Bus only, as bmcweb's
// systems.hpp does against phosphor-state-manager and phosphor-settingsd: PowerState, the boot
// override (Boot, PATCH) and ComputerSystem.Reset. Boot and Actions are there even when no host
// service answers (sushy refuses a system without them); changes then answer 503.
import type { WebContext } from '../context.js';
import { HostCallError, type HostClient } from '../host/client.js';
import type { HostWrite } from '../host/properties.js';
import { bootJson, bootWrites } from './boot-override.js';
import { requireCurrentEtag } from './etag.js';
import { redfishError } from './messages.js';
import { powerStateJson } from './power-state.js';
import { sendJson } from './route.js';
import { RESET_TYPES, resetWrite } from './system-reset.js';

export const SYSTEM = '/redfish/v1/Systems/system';
const RESET = `${SYSTEM}/Actions/ComputerSystem.Reset`;

/** What GET shows that PATCH cannot change (PropertyNotWritable rather than PropertyUnknown). */
const READ_ONLY_PROPERTIES = ['Id', 'Name', 'SystemType', 'PowerState', 'Status', 'VirtualMedia', 'Links', 'Actions'];

async function systemJson(host: HostClient): Promise<object> {
  const [hostState, source, mode, type, overrideEnabled, oneTime] = await Promise.all([
    host.read('currentHostState'),
    host.read('bootSource'),
    host.read('bootMode'),
    host.read('bootType'),
    host.read('overrideEnabled'),
    host.read('oneTimeEnabled'),
  ]);
  return {
    '@odata.id': SYSTEM,
    '@odata.type': '#ComputerSystem.v1_22_0.ComputerSystem',
    Id: 'system',
    Name: 'system',
    SystemType: 'Physical',
    ...powerStateJson(hostState),
    Boot: bootJson({ source, mode, type, overrideEnabled, oneTime }),
    Actions: {
      '#ComputerSystem.Reset': { target: RESET, 'ResetType@Redfish.AllowableValues': RESET_TYPES },
    },
    VirtualMedia: { '@odata.id': `${SYSTEM}/VirtualMedia` },
    Links: { ManagedBy: [{ '@odata.id': '/redfish/v1/Managers/bmc' }] },
  };
}

/** The writes a PATCH body asks for; every property is checked before anything is written. */
function patchWrites(body: unknown): HostWrite[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw redfishError(400, 'MalformedJSON', [], { resolution: 'The request body must be a JSON object.' });
  }
  const writes: HostWrite[] = [];
  for (const [key, value] of Object.entries(body)) {
    if (key === 'Boot') writes.push(...bootWrites(value));
    else if (READ_ONLY_PROPERTIES.includes(key))
      throw redfishError(400, 'PropertyNotWritable', [key], { related: [`#/${key}`] });
    else throw redfishError(400, 'PropertyUnknown', [key], { related: [`#/${key}`] });
  }
  return writes;
}

/** A refusal from the host's service that bmcweb's mapping should never provoke: a bug, so a 500 that names it. */
function refusedWrite(err: unknown): unknown {
  if (!(err instanceof HostCallError)) return err;
  return redfishError(500, 'InternalError', [], { resolution: `The host's service refused it: ${err.message}` });
}

export function registerComputerSystem(ctx: WebContext, host: HostClient): void {
  const { router, routes, log } = ctx;
  router.get(
    SYSTEM,
    routes.guarded('Login', async (_req, res) => sendJson(res, 200, await systemJson(host))),
  );
  router.patch(
    SYSTEM,
    routes.guarded('ConfigureComponents', async (req, res, principal) => {
      const writes = patchWrites(req.body);
      // sushy sends the ETag of its last GET; reading the system costs D-Bus calls, so only then
      if (req.get('If-Match') !== undefined) requireCurrentEtag(req, await systemJson(host));
      try {
        for (const write of writes) await host.write(write);
      } catch (err) {
        throw refusedWrite(err);
      }
      if (writes.length > 0) log.info({ user: principal.user, writes }, 'boot override changed');
      res.status(204).end();
    }),
  );
  router.post(
    RESET,
    routes.guarded('ConfigureComponents', async (req, res, principal) => {
      const { resetType, write } = resetWrite(req.body);
      try {
        await host.write(write);
      } catch (err) {
        // bmcweb: the state manager refusing the transition means this system does not support it
        if (err instanceof HostCallError && /InvalidEnumString|InvalidArgs/.test(err.errorName)) {
          throw redfishError(400, 'ActionParameterNotSupported', ['ResetType', 'ComputerSystem.Reset'], {
            related: ['#/ResetType'],
            resolution: `The host refused ${resetType}: ${err.message}`,
          });
        }
        throw refusedWrite(err);
      }
      log.info({ user: principal.user, resetType }, 'system reset requested');
      res.status(204).end();
    }),
  );
}
