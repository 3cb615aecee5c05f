// Redfish VirtualMedia on one BMC: find the members (Systems/*/VirtualMedia, DMTF's place, then the
// deprecated Managers/*/VirtualMedia), pick one whose MediaTypes fit the device and that takes
// InsertMedia, eject whatever is in it, insert our URL with its per-attachment credentials.
// A 409 (ResourceInUse: someone inserted meanwhile) ejects and tries again.
import { GatewayError } from '../errors.js';
import type { DeviceType } from '../types.js';
import type { RedfishClient, RedfishResponse } from './redfish-client.js';

export interface VirtualMediaSlot {
  uri: string;
  mediaTypes: string[];
  inserted: boolean;
  image: string | null;
  insertTarget: string | undefined;
  ejectTarget: string | undefined;
}

export interface InsertRequest {
  device: DeviceType;
  url: string;
  username: string;
  password: string;
  /** Is this slot's current image one of ours for this attachment (then it is kept)? */
  isOurs(image: string): boolean;
}

const FITS: Record<DeviceType, string[]> = { cd: ['CD', 'DVD'], usb: ['USBStick', 'Floppy'] };
const INSERT_CONFLICT_RETRIES = 2;

export const odataId = (v: unknown): string | undefined =>
  typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>)['@odata.id'] === 'string'
    ? ((v as Record<string, unknown>)['@odata.id'] as string)
    : undefined;

/** Throws a 502 BmcRefused naming `what` and the BMC's own message unless the answer is a 2xx. */
export function expectOk(res: RedfishResponse, what: string): void {
  if (res.status >= 200 && res.status < 300) return;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-member-access -- a DMTF error body, if any
  const message = (res.body?.error?.['@Message.ExtendedInfo']?.[0]?.Message ?? res.body?.error?.message) as
    string | undefined;
  throw new GatewayError(502, 'BmcRefused', `${what}: HTTP ${res.status}${message ? `: ${message}` : ''}`);
}

export class VirtualMediaDriver {
  constructor(private readonly client: RedfishClient) {}

  /** Every VirtualMedia member of the first place that has any. */
  async slots(): Promise<VirtualMediaSlot[]> {
    const root = await this.client.get('/redfish/v1');
    expectOk(root, 'reading the service root');
    for (const key of ['Systems', 'Managers']) {
      const collection = odataId((root.body as Record<string, unknown>)[key]);
      if (!collection) continue;
      const members = await this.members(collection);
      for (const member of members) {
        const res = await this.client.get(member);
        expectOk(res, `reading ${member}`);
        const vm = odataId((res.body as Record<string, unknown>).VirtualMedia);
        if (!vm) continue;
        const slots = await Promise.all((await this.members(vm)).map((uri) => this.slot(uri)));
        if (slots.length > 0) return slots;
      }
    }
    return [];
  }

  async slot(uri: string): Promise<VirtualMediaSlot> {
    const res = await this.client.get(uri);
    expectOk(res, `reading ${uri}`);
    const b = res.body as Record<string, unknown>;
    const actions = (b.Actions ?? {}) as Record<string, { target?: string } | undefined>;
    return {
      uri,
      mediaTypes: Array.isArray(b.MediaTypes) ? (b.MediaTypes as string[]) : [],
      inserted: b.Inserted === true,
      image: typeof b.Image === 'string' && b.Image !== '' ? b.Image : null,
      insertTarget: actions['#VirtualMedia.InsertMedia']?.target,
      ejectTarget: actions['#VirtualMedia.EjectMedia']?.target,
    };
  }

  /** Inserts the image and returns the slot it is in. */
  async insert(req: InsertRequest): Promise<string> {
    const fitting = (await this.slots()).filter(
      (s) => s.insertTarget && s.mediaTypes.some((t) => FITS[req.device].includes(t)),
    );
    const slot =
      fitting.find((s) => s.image !== null && req.isOurs(s.image)) ?? fitting.find((s) => !s.inserted) ?? fitting[0];
    if (!slot)
      throw new GatewayError(
        409,
        'NoFittingSlot',
        `the BMC has no VirtualMedia slot for a ${req.device} that takes InsertMedia`,
      );
    if (slot.inserted && slot.image !== null && req.isOurs(slot.image)) return slot.uri;
    for (let attempt = 0; ; attempt++) {
      if (slot.inserted || attempt > 0) await this.eject(slot);
      const res = await this.client.post(slot.insertTarget!, {
        Image: req.url,
        TransferProtocolType: 'HTTPS',
        TransferMethod: 'Stream',
        UserName: req.username,
        Password: req.password,
        WriteProtected: true,
      });
      if (res.status === 409 && attempt < INSERT_CONFLICT_RETRIES) continue;
      expectOk(res, `InsertMedia on ${slot.uri}`);
      return slot.uri;
    }
  }

  /** Ejects the slot (a no-op when it is empty). */
  async eject(slot: VirtualMediaSlot): Promise<void> {
    if (!slot.ejectTarget) throw new GatewayError(502, 'BmcRefused', `${slot.uri} has no EjectMedia action`);
    const res = await this.client.post(slot.ejectTarget, {});
    expectOk(res, `EjectMedia on ${slot.uri}`);
  }

  private async members(collection: string): Promise<string[]> {
    const res = await this.client.get(collection);
    expectOk(res, `reading ${collection}`);
    const members = (res.body as Record<string, unknown>).Members;
    return Array.isArray(members) ? members.map(odataId).filter((m): m is string => m !== undefined) : [];
  }
}
