// InsertMedia / EjectMedia and InsertMedia's ActionInfo. Both actions wait (bounded by the
// slot's Timeout) for the daemon's Completion, so the response tells the outcome and the next
// GET shows it.
import { redactUrl } from '../../log.js';
import type { WebContext } from '../context.js';
import { DaemonCallError } from '../daemon/client.js';
import { errnoText } from '../daemon/errno.js';
import { mountLegacy } from '../daemon/legacy-mount.js';
import { checkBody } from './body.js';
import { parseInsertMedia } from './insert-media.js';
import { insertFailed, refusedCall } from './media-errors.js';
import { redfishError } from './messages.js';
import { protocolsOf } from './protocols.js';
import { sendJson } from './route.js';
import { findSlot, VIRTUAL_MEDIA_COLLECTIONS } from './virtual-media.js';
import { completionWaitMs } from '../../contract.js';

/** The image a slot holds, as told to another client: without the query string (a presigned URL's token). */
function imageForOthers(url: string): string {
  try {
    return redactUrl(new URL(url));
  } catch {
    return 'media';
  }
}

export function registerMediaActions(ctx: WebContext): void {
  for (const members of VIRTUAL_MEDIA_COLLECTIONS) registerMemberActions(ctx, members);
}

/** The actions of the members of the VirtualMedia collection at `members`. */
function registerMemberActions(ctx: WebContext, members: string): void {
  const { router, routes, daemon } = ctx;
  const member = `${members}/:slot`;

  router.get(
    `${member}/InsertMediaActionInfo`,
    routes.guarded('Login', async (req, res) => {
      const slot = await findSlot(ctx, String(req.params.slot));
      if (slot.mode !== 'Legacy') throw redfishError(404, 'ResourceNotFound', ['ActionInfo', 'InsertMediaActionInfo']);
      const base = `${members}/${slot.name}`;
      sendJson(res, 200, {
        '@odata.id': `${base}/InsertMediaActionInfo`,
        '@odata.type': '#ActionInfo.v1_4_0.ActionInfo',
        Id: 'InsertMediaActionInfo',
        Name: 'InsertMedia Action Info',
        Parameters: [
          { Name: 'Image', Required: true, DataType: 'String' },
          { Name: 'Inserted', Required: false, DataType: 'Boolean', AllowableValues: ['true'] },
          { Name: 'WriteProtected', Required: false, DataType: 'Boolean' },
          { Name: 'UserName', Required: false, DataType: 'String' },
          { Name: 'Password', Required: false, DataType: 'String' },
          { Name: 'TransferMethod', Required: false, DataType: 'String', AllowableValues: ['Stream'] },
          {
            Name: 'TransferProtocolType',
            Required: false,
            DataType: 'String',
            AllowableValues: protocolsOf(slot.schemes),
          },
        ],
      });
    }),
  );

  router.post(
    `${member}/Actions/VirtualMedia.InsertMedia`,
    routes.guarded('ConfigureComponents', async (req, res, principal) => {
      const slot = await findSlot(ctx, String(req.params.slot));
      if (slot.mode !== 'Legacy') {
        throw redfishError(405, 'ActionNotSupported', ['#VirtualMedia.InsertMedia'], {
          resolution: `${slot.name} is a Proxy slot: its media comes from a browser over ${slot.endpointId}, not from a URL.`,
        }).withHeader('Allow', '');
      }
      const insert = parseInsertMedia(req.body, slot.schemes);
      if (slot.active) {
        throw redfishError(409, 'ResourceInUse', [], {
          resolution: `${slot.name} already holds ${imageForOthers(slot.imageUrl)}; eject it first.`,
        });
      }
      let errno: number;
      try {
        errno = await mountLegacy(
          daemon,
          slot,
          { url: insert.url, rw: insert.writable, credentials: insert.credentials },
          ctx,
        );
      } catch (err) {
        throw refusedCall(err, insert.url);
      }
      // an audit trail: who inserted what, without the URL's query string (a presigned URL's token)
      const audit = {
        user: principal.user,
        slot: slot.name,
        url: redactUrl(new URL(insert.url)),
        withCredentials: insert.credentials !== undefined,
      };
      if (errno !== 0) {
        ctx.log.warn({ ...audit, errno: errnoText(errno) }, 'InsertMedia failed');
        throw insertFailed(errno, insert.url);
      }
      ctx.log.info(audit, 'media inserted');
      res.status(204).end();
    }),
  );

  router.post(
    `${member}/Actions/VirtualMedia.EjectMedia`,
    routes.guarded('ConfigureComponents', async (req, res, principal) => {
      const slot = await findSlot(ctx, String(req.params.slot));
      checkBody(req.body, { action: 'EjectMedia', fields: {} });
      let errno: number;
      try {
        errno = await daemon.operate(slot, 'Unmount', undefined, completionWaitMs(slot.timeout));
      } catch (err) {
        // Unmount on an empty (Ready) slot is EPERM: ejecting nothing is done already
        if (err instanceof DaemonCallError && err.errno === 'EPERM') return void res.status(204).end();
        throw refusedCall(err);
      }
      if (errno !== 0) {
        throw redfishError(500, 'GeneralError', [], {
          resolution: `Ejecting ${slot.name} ended with ${errnoText(errno)}.`,
        });
      }
      ctx.log.info({ user: principal.user, slot: slot.name }, 'media ejected');
      res.status(204).end();
    }),
  );
}
