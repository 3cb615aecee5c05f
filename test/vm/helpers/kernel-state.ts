// What the kernel says about a slot, read straight from configfs, sysfs and /proc (not through
// the code under test): gadgets, UDC bindings, NBD sizes and nbd-client processes.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const GADGETS = '/sys/kernel/config/usb_gadget';

export function gadgetNames(): string[] {
  return existsSync(GADGETS) ? readdirSync(GADGETS).sort() : [];
}

/** UDC → gadget bound to it. */
export function boundUdcs(): Map<string, string> {
  const bound = new Map<string, string>();
  for (const name of gadgetNames()) {
    const udc = readFileSync(path.join(GADGETS, name, 'UDC'), 'utf8').trim();
    if (udc) bound.set(udc, name);
  }
  return bound;
}

export function udcs(): string[] {
  return readdirSync('/sys/class/udc').sort();
}

/** A configfs attribute of a gadget, e.g. gadgetAttr('mass-storage-Slot_0', 'functions/mass_storage.usb0/lun.0/cdrom'). */
export function gadgetAttr(gadget: string, attr: string): string {
  return readFileSync(path.join(GADGETS, gadget, attr), 'utf8').trim();
}

export function nbdSize(device: string): number {
  return Number(readFileSync(`/sys/block/${device}/size`, 'utf8').trim()) * 512;
}

/** Pids of the processes whose command line names this program and this argument. */
export function pidsOf(program: string, arg: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (path.basename(argv[0] ?? '') === program && argv.includes(arg)) pids.push(Number(entry));
    } catch {
      continue; // exited while we looked
    }
  }
  return pids;
}

/** The slot left nothing behind: no gadget, its UDC free, the NBD device empty, no nbd-client. */
export function assertSlotReleased(slot: string, nbdDevice: string): void {
  assert.ok(!gadgetNames().includes(`mass-storage-${slot}`), `gadget mass-storage-${slot} still exists`);
  assert.ok(
    ![...boundUdcs().values()].includes(`mass-storage-${slot}`),
    `a UDC is still bound to mass-storage-${slot}`,
  );
  assert.equal(nbdSize(nbdDevice), 0, `/dev/${nbdDevice} still has a size`);
  assert.deepEqual(pidsOf('nbd-client', `/dev/${nbdDevice}`), [], `nbd-client for /dev/${nbdDevice} still runs`);
}
