// A temporary tree laid out like /sys/block/nbdN (size, stat, pid, queue/), for the NBD device code.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface SysfsTree {
  root: string;
  /** Sets /sys/block/<dev>/size in 512-byte sectors, as the kernel shows it. */
  setSectors(dev: string, sectors: number): void;
  setStat(dev: string, line: string): void;
  setPid(dev: string, pid: number | undefined): void;
  remove(): void;
}

export function createSysfsTree(devices: string[]): SysfsTree {
  const root = mkdtempSync(path.join(tmpdir(), 'vmedia-sysfs-'));
  const file = (dev: string, attr: string) => path.join(root, 'block', dev, attr);
  const tree: SysfsTree = {
    root,
    setSectors: (dev, sectors) => writeFileSync(file(dev, 'size'), `${sectors}\n`),
    setStat: (dev, line) => writeFileSync(file(dev, 'stat'), `${line}\n`),
    setPid: (dev, pid) =>
      pid === undefined ? rmSync(file(dev, 'pid'), { force: true }) : writeFileSync(file(dev, 'pid'), `${pid}\n`),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
  for (const dev of devices) {
    mkdirSync(path.join(root, 'block', dev, 'queue'), { recursive: true });
    // an nbd device's queue as Linux 6.1 creates it
    for (const [attr, kib] of [
      ['read_ahead_kb', 128],
      ['max_sectors_kb', 128],
      ['max_hw_sectors_kb', 32768],
    ] as const)
      writeFileSync(file(dev, `queue/${attr}`), `${kib}\n`);
    tree.setSectors(dev, 0);
    tree.setStat(
      dev,
      '       0        0        0        0        0        0        0        0        0        0        0        0        0        0        0        0        0',
    );
  }
  return tree;
}
