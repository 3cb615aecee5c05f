// The QEMU command line of one power-on. The machine starts paused (-S) with its drives empty:
// the media go in over QMP (live-media.ts) before the first instruction runs, the same way they
// change later, so a slot that is empty, or whose export socket is stale, never stops a boot.
// q35 with its AHCI ports for the CD drives, an xHCI controller for the USB sticks, no disk,
// no network card, no display; the serial console appends to a file.
import type { Accelerator } from './accelerator.js';
import type { BootPlan } from './boot-plan.js';
import type { EfiFirmware } from './firmware.js';
import type { HostPaths } from './host-paths.js';
import type { HostSlot } from './slots.js';

export const QEMU_BINARY = 'qemu-system-x86_64';
/** The xHCI controller's id; USB sticks plug into its bus. */
export const USB_BUS = 'xhci.0';

export interface QemuCommandInput {
  accelerator: Accelerator;
  memoryMiB: number;
  /** Present for an EFI boot. */
  efi?: EfiFirmware;
  paths: HostPaths;
  slots: readonly HostSlot[];
  plan: BootPlan;
}

/** The qdev id of a slot's drive (CD) or USB device, as QMP commands name it. */
export function deviceId(slot: HostSlot): string {
  return `${slot.media === 'CD' ? 'cd' : 'usb'}-${slot.name}`;
}

/** QEMU's option syntax doubles a comma inside a value. */
const quote = (value: string) => value.replaceAll(',', ',,');

export function qemuArguments(input: QemuCommandInput): string[] {
  const { paths, plan } = input;
  const args = [
    '-S',
    '-machine',
    'q35',
    ...(input.accelerator === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg']),
    '-m',
    String(input.memoryMiB),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-chardev',
    `file,id=console,path=${quote(paths.consoleLog)},append=on`,
    '-serial',
    'chardev:console',
    ...qmpMonitor('qmp', paths.qmpSocket),
    ...qmpMonitor('monitor', paths.monitorSocket),
  ];
  if (input.efi) {
    args.push(
      '-drive',
      `if=pflash,format=raw,unit=0,readonly=on,file=${quote(input.efi.code)}`,
      '-drive',
      `if=pflash,format=raw,unit=1,file=${quote(input.efi.vars)}`,
    );
  }
  if (input.slots.some((s) => s.media === 'USBStick')) args.push('-device', 'qemu-xhci,id=xhci');
  // USB sticks are plugged in with their medium (usb-storage cannot be empty); CD drives exist always
  input.slots
    .filter((s) => s.media === 'CD')
    .forEach((slot, port) => {
      args.push('-device', `ide-cd,bus=ide.${port},id=${deviceId(slot)},bootindex=${plan.bootIndex.get(slot.name)}`);
    });
  return args;
}

function qmpMonitor(id: string, socket: string): string[] {
  return ['-chardev', `socket,id=${id},path=${quote(socket)},server=on,wait=off`, '-mon', `chardev=${id},mode=control`];
}
