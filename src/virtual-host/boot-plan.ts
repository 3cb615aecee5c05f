// What one power-on boots: the firmware (Boot.Type) and the boot order of the drives (QEMU's
// bootindex), from the boot override. The VM has no disk and no network card, so only
// ExternalMedia (Redfish "Cd") and RemovableMedia/USB ("Usb") change the order; without an
// override, or for any other source, CD drives come first, then USB sticks, in config order.
import type { BootSettingsSnapshot } from './boot-settings.js';
import type { HostSlot } from './slots.js';

export type Firmware = 'efi' | 'legacy';

export interface BootPlan {
  firmware: Firmware;
  /** bootindex of each slot's drive, 0 = first. */
  bootIndex: ReadonlyMap<string, number>;
  /** This boot uses a one-time override, which must be cleared once the boot has started. */
  consumesOnce: boolean;
}

export function bootPlan(settings: BootSettingsSnapshot, slots: readonly HostSlot[]): BootPlan {
  const override = settings.overrideEnabled;
  const usbFirst = override && (settings.source === 'RemovableMedia' || settings.source === 'USB');
  const rank = (slot: HostSlot) => ((slot.media === 'USBStick') === usbFirst ? 0 : 1);
  const ordered = [...slots].sort((a, b) => rank(a) - rank(b));
  return {
    firmware: settings.type === 'EFI' ? 'efi' : 'legacy',
    bootIndex: new Map(ordered.map((slot, index) => [slot.name, index])),
    consumesOnce: override && settings.oneTime,
  };
}
