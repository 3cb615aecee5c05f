// One kernel NBD device (/dev/nbdN): connecting it to a slot socket with nbd-client, its size
// and IO counters from sysfs, and disconnecting it. Roots are parameters so tests can use a
// temporary tree laid out like /sys and /dev.
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MountError } from '../../errno.js';
import type { NbdClientConfig, NbdQueueConfig } from '../../config/types.js';
import type { HostStats } from '../types.js';
import type { ProcessRunner, RunningProcess } from '../../process/runner.js';

/** nbd-client flags after the device when the config names none: stay in the foreground
 *  (-n) and use the ioctl interface (-L), so the process lives exactly as long as the link. */
export const DEFAULT_NBD_CLIENT_ARGS: readonly string[] = ['-n', '-L'];

const SECTOR = 512;

export interface NbdDevice {
  /** Kernel name, e.g. "nbd0". */
  readonly name: string;
  /** Device node, e.g. "/dev/nbd0". */
  readonly path: string;
  /** True when nbd-client's flags use netlink: it configures the device and exits 0, and the
   *  kernel keeps the link; false in ioctl mode (-L), where the process lives as long as the link. */
  readonly linkOutlivesClient: boolean;
  /** False when the kernel has no such device (nbd module not loaded, nbds_max too low). */
  exists(): boolean;
  /** Bytes; 0 while not connected. */
  size(): Promise<number>;
  /** Cumulative bytes the block layer has read/written on this device. */
  stats(): HostStats;
  /** Pid of the process that configured the device, or undefined when it is free. */
  owner(): Promise<number | undefined>;
  /** Starts nbd-client for `socket`; it keeps running while the link is up (ioctl mode). */
  connect(socket: string, timeoutSeconds: number, blockSize?: number): Promise<RunningProcess>;
  /** Asks the kernel to drop the link (`nbd-client -d`); returns whether nbd-client succeeded. */
  disconnect(): Promise<boolean>;
  /** Sets the block queue's read-ahead and longest request (lowered to what the device allows);
   *  returns what the kernel then has. Takes effect for opens after it: call before the gadget. */
  setQueue(queue: NbdQueueConfig): Promise<NbdQueueConfig>;
}

/** Parses /sys/block/<dev>/stat (Documentation/block/stat.rst: field 3 = sectors read,
 *  field 7 = sectors written, always in 512-byte units; field 9 = I/Os in flight). */
export function parseBlockStat(text: string): HostStats {
  const fields = text.trim().split(/\s+/).map(Number);
  if (fields.length < 9 || fields.some((n) => !Number.isSafeInteger(n))) {
    throw new Error(`unexpected block stat format: ${JSON.stringify(text)}`);
  }
  return { readBytes: fields[2]! * SECTOR, writeBytes: fields[6]! * SECTOR, inFlight: fields[8]! };
}

/** A sysfs attribute holding one integer (a size in sectors, a queue limit in KiB). */
async function readSysfsInteger(file: string): Promise<number> {
  const text = await readFile(file, 'utf8');
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n)) throw new Error(`unexpected ${file}: ${JSON.stringify(text)}`);
  return n;
}

export interface SysfsNbdDeviceOptions {
  name: string;
  sysRoot: string;
  devRoot: string;
  nbdClient: NbdClientConfig;
  runner: ProcessRunner;
}

export function createNbdDevice(opts: SysfsNbdDeviceOptions): NbdDevice {
  if (!/^nbd\d+$/.test(opts.name)) {
    throw new MountError('EINVAL', `NBD device name "${opts.name}" is not of the form nbdN`);
  }
  const sysDir = path.join(opts.sysRoot, 'block', opts.name);
  const devPath = path.join(opts.devRoot, opts.name);
  const client = opts.nbdClient.path;
  const flags = opts.nbdClient.args ?? DEFAULT_NBD_CLIENT_ARGS;
  return {
    name: opts.name,
    path: devPath,
    linkOutlivesClient: !flags.some((f) => f === '-L' || f === '-nonetlink'),
    exists: () => existsSync(sysDir),
    async size() {
      return (await readSysfsInteger(path.join(sysDir, 'size'))) * SECTOR;
    },
    // synchronous: HostAttachment.stats() is, and a sysfs read does not block
    stats: () => parseBlockStat(readFileSync(path.join(sysDir, 'stat'), 'utf8')),
    async owner() {
      try {
        const pid = Number((await readFile(path.join(sysDir, 'pid'), 'utf8')).trim());
        return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    connect(socket, timeoutSeconds, blockSize) {
      // nbd-client 3.24 wants the device after `-u SOCK`; the other order fails to open it
      const sizeArgs = blockSize === undefined ? [] : ['-b', String(blockSize)];
      const args = ['-t', String(timeoutSeconds), ...sizeArgs, '-u', socket, devPath, ...flags];
      return opts.runner.start(client, args);
    },
    async disconnect() {
      const exit = await opts.runner.run(client, ['-d', devPath]);
      return exit.code === 0;
    },
    async setQueue(queue) {
      const attr = (name: string) => path.join(sysDir, 'queue', name);
      const readKiB = (name: string) => readSysfsInteger(attr(name));
      // the kernel refuses a max_sectors_kb above max_hw_sectors_kb (EINVAL)
      const longest = Math.min(queue.maxRequestKiB, await readKiB('max_hw_sectors_kb'));
      await writeFile(attr('max_sectors_kb'), `${longest}\n`);
      await writeFile(attr('read_ahead_kb'), `${queue.readAheadKiB}\n`);
      return { readAheadKiB: await readKiB('read_ahead_kb'), maxRequestKiB: await readKiB('max_sectors_kb') };
    },
  };
}
