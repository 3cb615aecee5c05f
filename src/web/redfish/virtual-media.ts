// VirtualMedia collection and members (#VirtualMedia.v1_6_x), read live from the daemon's D-Bus
// objects: a GET after an action returns shows what the daemon has now, never a cached view.
import type { WebContext } from '../context.js';
import type { SlotState } from '../daemon/client.js';
import { checkBody } from './body.js';
import { generatedMediaAction, generatedMediaOem, VMEDIA_OEM } from './generated-media-oem.js';
import { collection } from './collection.js';
import { requireCurrentEtag } from './etag.js';
import { MANAGER } from './managers.js';
import { redfishError } from './messages.js';
import { protocolOfScheme, protocolsOf } from './protocols.js';
import { sendJson } from './route.js';

export const VIRTUAL_MEDIA = `${MANAGER}/VirtualMedia`;
/** Where DMTF places the members now (Manager.VirtualMedia is deprecated); systems.ts serves the collection. */
export const SYSTEM_VIRTUAL_MEDIA = '/redfish/v1/Systems/system/VirtualMedia';
/** Every collection the members are served under: the system's, and the manager's for bmcweb-era clients. */
export const VIRTUAL_MEDIA_COLLECTIONS = [VIRTUAL_MEDIA, SYSTEM_VIRTUAL_MEDIA];

/**
 * Legacy slots first: Ironic inserts into the first member that is not inserted and whose
 * MediaTypes hold its boot device, and only Legacy slots take InsertMedia. Stable, so each group
 * keeps the daemon's (name) order.
 */
export function virtualMediaCollection(odataId: string, slots: SlotState[]): object {
  const legacyFirst = [...slots].sort((a, b) => Number(a.mode !== 'Legacy') - Number(b.mode !== 'Legacy'));
  return collection(
    odataId,
    'VirtualMediaCollection',
    'Virtual Media Services',
    legacyFirst.map((s) => `${odataId}/${s.name}`),
  );
}

/** What the host sees the slot as; both kinds for a daemon that does not say (no Device interface). */
function mediaTypes(slot: SlotState): string[] {
  switch (slot.mediaType) {
    case 'CD':
      return ['CD', 'DVD'];
    case 'USBStick':
      return ['USBStick'];
    case undefined:
      return ['CD', 'USBStick'];
  }
}

function imageName(url: string): string | null {
  try {
    const last = new URL(url).pathname.split('/').pop();
    return last ? decodeURIComponent(last) : null;
  } catch {
    return null;
  }
}

/** The member as served in the collection at `members`. */
export function virtualMediaMember(slot: SlotState, members: string): object {
  const base = `${members}/${slot.name}`;
  const legacy = slot.mode === 'Legacy';
  const image = legacy && slot.active && slot.imageUrl ? slot.imageUrl : null;
  const actions: Record<string, object> = {
    '#VirtualMedia.EjectMedia': { target: `${base}/Actions/VirtualMedia.EjectMedia` },
  };
  if (legacy) {
    actions['#VirtualMedia.InsertMedia'] = {
      target: `${base}/Actions/VirtualMedia.InsertMedia`,
      '@Redfish.ActionInfo': `${base}/InsertMediaActionInfo`,
      'TransferProtocolType@Redfish.AllowableValues': protocolsOf(slot.schemes),
      'TransferMethod@Redfish.AllowableValues': ['Stream'],
    };
    actions.Oem = generatedMediaAction(base);
  }
  return {
    '@odata.id': base,
    '@odata.type': '#VirtualMedia.v1_6_3.VirtualMedia',
    Id: slot.name,
    Name: 'Virtual Removable Media',
    MediaTypes: mediaTypes(slot),
    Image: image,
    ImageName: image ? imageName(image) : null,
    Inserted: slot.active,
    WriteProtected: slot.writeProtected,
    ConnectedVia: !slot.active ? 'NotConnected' : legacy ? 'URI' : 'Applet',
    TransferMethod: 'Stream',
    TransferProtocolType: legacy
      ? image
        ? (protocolOfScheme(image.slice(0, Math.max(0, image.indexOf(':')))) ?? null)
        : null
      : 'OEM',
    ...(legacy
      ? {
          VerifyCertificate: true,
          Certificates: { '@odata.id': `${base}/Certificates` },
          Oem: { [VMEDIA_OEM]: generatedMediaOem(slot, base) },
        }
      : {
          Oem: {
            OpenBMC: {
              '@odata.id': `${base}#/Oem/OpenBMC`,
              '@odata.type': '#OpenBMCVirtualMedia.v1_0_0.VirtualMedia',
              WebSocketEndpoint: slot.endpointId,
            },
          },
        }),
    Actions: actions,
  };
}

/** The slot named in the URL, or 404 with ResourceNotFound. */
export async function findSlot(ctx: WebContext, name: string): Promise<SlotState> {
  const slot = await ctx.daemon.slot(name);
  if (!slot) throw redfishError(404, 'ResourceNotFound', ['VirtualMedia', name]);
  return slot;
}

const READ_ONLY_MEMBER_PROPERTIES = [
  'Id',
  'Name',
  'MediaTypes',
  'Image',
  'ImageName',
  'Inserted',
  'WriteProtected',
  'ConnectedVia',
  'TransferMethod',
  'TransferProtocolType',
  'UserName',
  'Password',
  'Oem',
  'Actions',
  'Certificates',
];

export function registerVirtualMedia(ctx: WebContext): void {
  const { router, routes } = ctx;
  router.get(
    VIRTUAL_MEDIA,
    routes.guarded('Login', async (_req, res) => {
      sendJson(res, 200, virtualMediaCollection(VIRTUAL_MEDIA, await ctx.daemon.slots()));
    }),
  );
  for (const members of VIRTUAL_MEDIA_COLLECTIONS) registerMember(ctx, members);
}

/** The members of the collection at `members`. */
function registerMember(ctx: WebContext, members: string): void {
  const { router, routes } = ctx;
  router.get(
    `${members}/:slot`,
    routes.guarded('Login', async (req, res) => {
      sendJson(res, 200, virtualMediaMember(await findSlot(ctx, String(req.params.slot)), members));
    }),
  );
  // Certificates are always verified: VerifyCertificate=true is accepted as a no-op, false is
  // refused rather than silently ignored. Media is changed through the actions, not PATCH.
  router.patch(
    `${members}/:slot`,
    routes.guarded('ConfigureComponents', async (req, res) => {
      const slot = await findSlot(ctx, String(req.params.slot));
      requireCurrentEtag(req, virtualMediaMember(slot, members));
      const given = typeof req.body === 'object' && req.body !== null ? Object.keys(req.body as object) : [];
      const readOnly = given.find((k) => READ_ONLY_MEMBER_PROPERTIES.includes(k));
      if (readOnly) {
        throw redfishError(400, 'PropertyNotWritable', [readOnly], {
          related: [`#/${readOnly}`],
          resolution: 'Use the InsertMedia and EjectMedia actions to change the media.',
        });
      }
      const body = checkBody(req.body, { fields: slot.mode === 'Legacy' ? { VerifyCertificate: 'boolean' } : {} });
      if (body.VerifyCertificate === false) {
        throw redfishError(400, 'PropertyValueNotInList', ['false', 'VerifyCertificate'], {
          related: ['#/VerifyCertificate'],
          resolution: `This service always verifies image servers' certificates; add the server's CA to ${members}/${slot.name}/Certificates instead.`,
        });
      }
      res.status(204).end();
    }),
  );
}
