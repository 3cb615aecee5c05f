// Our OEM extension of a Legacy VirtualMedia member (namespace VmediaVirtualMedia, Oem key
// "Vmedia", not bmcweb's OpenBMC one): the InsertGeneratedMedia action entry and the generated
// media attached now. generated-media.ts serves the action; virtual-media.ts places these parts.
import type { SlotState } from '../daemon/client.js';
import { GENERATED_MEDIA_FORMATS } from '../../dbus/generated-media.js';

/** Our OEM namespace (not bmcweb's OpenBMC one): the Oem key and the schema's name. */
export const VMEDIA_OEM = 'Vmedia';
export const VMEDIA_VIRTUAL_MEDIA = 'VmediaVirtualMedia';
export const INSERT_GENERATED_MEDIA = 'InsertGeneratedMedia';
export const INSERT_GENERATED_MEDIA_INFO = 'InsertGeneratedMediaActionInfo';
/** The formats the daemon builds for this slot's media type. */
export function generatedMediaFormats(slot: SlotState): readonly string[] {
  return GENERATED_MEDIA_FORMATS[slot.mediaType ?? 'CD'];
}

/** The member's Actions.Oem entry (Legacy slots). */
export function generatedMediaAction(base: string): Record<string, object> {
  return {
    [`#${VMEDIA_VIRTUAL_MEDIA}.${INSERT_GENERATED_MEDIA}`]: {
      target: `${base}/Actions/Oem/${VMEDIA_VIRTUAL_MEDIA}.${INSERT_GENERATED_MEDIA}`,
      '@Redfish.ActionInfo': `${base}/${INSERT_GENERATED_MEDIA_INFO}`,
    },
  };
}

/** The member's Oem.Vmedia (Legacy slots): the generated media attached now, or null. */
export function generatedMediaOem(slot: SlotState, base: string): object {
  const g = slot.generatedMedia;
  return {
    '@odata.id': `${base}#/Oem/${VMEDIA_OEM}`,
    '@odata.type': `#${VMEDIA_VIRTUAL_MEDIA}.v1_0_0.VirtualMedia`,
    GeneratedMedia: g ? { Nonce: g.nonce, Format: g.format, Label: g.label } : null,
  };
}
