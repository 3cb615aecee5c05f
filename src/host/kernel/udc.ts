// Which USB device controller a slot's gadget binds to: the one pinned in the config, else the
// first one no gadget is bound to (OpenBMC took a busy one when the KVM HID gadget was active).
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { MountError } from '../../errno.js';

/** Controller names from <sysRoot>/class/udc, sorted; empty when there is none. */
export async function listUdcs(sysRoot: string): Promise<string[]> {
  try {
    return (await readdir(path.join(sysRoot, 'class', 'udc'))).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * @param available controllers the kernel has
 * @param bound controller → gadget bound to it
 * @param pinned the slot's `UDC` from the config, if any
 */
export function pickUdc(available: readonly string[], bound: ReadonlyMap<string, string>, pinned?: string): string {
  if (pinned !== undefined) {
    if (!available.includes(pinned)) {
      throw new MountError(
        'ENODEV',
        `USB device controller ${pinned} (pinned by the config) does not exist; have: ${available.join(', ') || 'none'}`,
      );
    }
    const user = bound.get(pinned);
    if (user !== undefined)
      throw new MountError('EBUSY', `USB device controller ${pinned} is in use by gadget ${user}`);
    return pinned;
  }
  if (available.length === 0) throw new MountError('ENODEV', 'no USB device controller (no entries in /sys/class/udc)');
  const free = available.find((udc) => !bound.has(udc));
  if (free === undefined) {
    const users = available.map((udc) => `${udc} (${bound.get(udc)})`).join(', ');
    throw new MountError('EBUSY', `every USB device controller is in use: ${users}`);
  }
  return free;
}
