// The "server" side of the loop-back in the VM: dummy_hcd connects each gadget to the VM's own
// USB host, so a slot's media shows up as /dev/sdX (disk) or /dev/srN (CD-ROM) here.
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from '../../helpers/wait.js';

export interface HostDisk {
  /** Kernel name, e.g. "sda" or "sr0". */
  name: string;
  path: string;
  /** Bytes. */
  size: number;
  /** SCSI peripheral type: 0 = disk, 5 = CD-ROM. */
  scsiType: number;
  readOnly: boolean;
}

/** USB serial number of the device a block device sits on, or undefined for non-USB disks. */
function usbSerialOf(block: string): string | undefined {
  let dir = realpathSync(path.join('/sys/block', block));
  while (dir !== '/sys' && dir !== '/') {
    if (existsSync(path.join(dir, 'idVendor')) && existsSync(path.join(dir, 'serial'))) {
      return readFileSync(path.join(dir, 'serial'), 'utf8').trim();
    }
    dir = path.dirname(dir);
  }
  return undefined;
}

/** The host disk of the gadget with this USB serial number, if it has media. */
export function findHostDisk(serial: string): HostDisk | undefined {
  for (const name of readdirSync('/sys/block')) {
    if (!/^(sd[a-z]+|sr\d+)$/.test(name)) continue;
    try {
      if (usbSerialOf(name) !== serial) continue;
      const sys = (attr: string) => readFileSync(path.join('/sys/block', name, attr), 'utf8').trim();
      const size = Number(sys('size')) * 512;
      if (size === 0) continue;
      return { name, path: `/dev/${name}`, size, scsiType: Number(sys('device/type')), readOnly: sys('ro') === '1' };
    } catch {
      continue; // the device went away while we looked
    }
  }
  return undefined;
}

/**
 * The host disk of this serial once it has media; with `readOnly: true`, once it also reads as
 * read-only. The sd driver clears a disk's read-only flag at each revalidation before it reads the
 * write-protect bit again (sd_read_write_protect_flag), so a read-only disk that already shows its
 * size can read 0 for a moment (CI saw it once); a writable one never reads 1.
 */
export function waitForHostDisk(serial: string, opts: { readOnly?: true; timeoutMs?: number } = {}): Promise<HostDisk> {
  const what = `a ${opts.readOnly ? 'read-only ' : ''}USB disk with serial ${serial} on the VM's host side`;
  return waitFor(
    what,
    () => {
      const disk = findHostDisk(serial);
      return disk && (!opts.readOnly || disk.readOnly) ? disk : undefined;
    },
    { timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: 200 },
  );
}

/** Waits until no block device of this USB serial is left. */
export async function waitForHostDiskGone(serial: string, timeoutMs = 30_000): Promise<void> {
  const present = () =>
    readdirSync('/sys/block').some((name) => {
      try {
        return usbSerialOf(name) === serial;
      } catch {
        return false;
      }
    });
  await waitFor(`the USB disk with serial ${serial} to go away`, () => !present(), { timeoutMs, intervalMs: 200 });
}
