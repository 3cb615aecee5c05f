// The daemon's slots as the virtual host sees them: each one a drive of the VM, a CD drive for
// MediaType CD and a USB stick for USBStick, whose medium is the slot's NBD export socket.
import type { MediaType, ServiceConfig } from '../config/types.js';

export interface HostSlot {
  name: string;
  media: MediaType;
  exportSocket: string;
}

/** q35's AHCI controller has six ports, one CD drive each. */
export const MAX_CD_SLOTS = 6;

export function hostSlots(config: ServiceConfig): HostSlot[] {
  const slots = config.slots.flatMap((s) =>
    s.exportSocket === undefined ? [] : [{ name: s.name, media: s.mediaType, exportSocket: s.exportSocket }],
  );
  if (slots.length === 0) {
    throw new Error('no slot has an ExportSocket: the virtual host needs the daemon\'s "HostBackend": "export"');
  }
  if (slots.filter((s) => s.media === 'CD').length > MAX_CD_SLOTS) {
    throw new Error(`the virtual host has ${MAX_CD_SLOTS} CD drives; the config has more CD slots`);
  }
  return slots;
}
