// The slots as the page sees them, read from Redfish: the VirtualMedia collection of the BMC
// manager and each member. A Proxy slot is one with a WebSocket endpoint; a Legacy slot is one
// that offers InsertMedia.
import type { Api } from './api.js';

export const VIRTUAL_MEDIA = '/redfish/v1/Managers/bmc/VirtualMedia';

export interface Slot {
  id: string;
  mode: 'Proxy' | 'Legacy';
  inserted: boolean;
  image: string | null;
  writeProtected: boolean;
  /** Proxy: the bridge path, e.g. "/nbd/0". */
  webSocketEndpoint?: string;
  /** Legacy: the InsertMedia action target and the protocols it accepts. */
  insertTarget?: string;
  protocols: string[];
  ejectTarget?: string;
  /** Legacy: our InsertGeneratedMedia action and its ActionInfo (the formats this slot takes). */
  generatedTarget?: string;
  generatedActionInfo?: string;
  /** The generated media inserted now (Oem.Vmedia.GeneratedMedia). */
  generatedMedia?: { nonce: string; format: string; label: string };
}

const GENERATED_ACTION = '#VmediaVirtualMedia.InsertGeneratedMedia';

interface Action {
  target?: unknown;
  '@Redfish.ActionInfo'?: unknown;
  'TransferProtocolType@Redfish.AllowableValues'?: unknown;
}
interface Member {
  Id?: unknown;
  Image?: unknown;
  Inserted?: unknown;
  WriteProtected?: unknown;
  Oem?: {
    OpenBMC?: { WebSocketEndpoint?: unknown };
    Vmedia?: { GeneratedMedia?: { Nonce?: unknown; Format?: unknown; Label?: unknown } | null };
  };
  Actions?: Record<string, Action | undefined> & { Oem?: Record<string, Action | undefined> };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function parseSlot(json: unknown): Slot {
  const m = (json ?? {}) as Member;
  const id = str(m.Id);
  if (!id) throw new Error('A VirtualMedia member has no Id.');
  const insert = m.Actions?.['#VirtualMedia.InsertMedia'];
  const endpoint = str(m.Oem?.OpenBMC?.WebSocketEndpoint);
  const allowed = insert?.['TransferProtocolType@Redfish.AllowableValues'];
  const generatedAction = m.Actions?.Oem?.[GENERATED_ACTION];
  const generated = m.Oem?.Vmedia?.GeneratedMedia;
  const nonce = str(generated?.Nonce);
  return {
    id,
    mode: endpoint && !insert ? 'Proxy' : 'Legacy',
    inserted: m.Inserted === true,
    image: str(m.Image) ?? null,
    writeProtected: m.WriteProtected !== false,
    webSocketEndpoint: endpoint,
    insertTarget: str(insert?.target),
    protocols: Array.isArray(allowed) ? allowed.filter((p): p is string => typeof p === 'string') : [],
    ejectTarget: str(m.Actions?.['#VirtualMedia.EjectMedia']?.target),
    generatedTarget: str(generatedAction?.target),
    generatedActionInfo: str(generatedAction?.['@Redfish.ActionInfo']),
    generatedMedia: nonce
      ? { nonce, format: str(generated?.Format) ?? '', label: str(generated?.Label) ?? '' }
      : undefined,
  };
}

export async function loadSlots(api: Api): Promise<Slot[]> {
  const collection = (await api.get(VIRTUAL_MEDIA)) as { Members?: Array<{ '@odata.id'?: unknown }> } | undefined;
  const paths = (collection?.Members ?? []).map((m) => str(m['@odata.id'])).filter((p): p is string => !!p);
  const slots = await Promise.all(paths.map(async (p) => parseSlot(await api.get(p))));
  return slots.sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));
}
