// USB mass-storage gadgets in configfs (usb_gadget/<name>, docs/architecture.md): created attribute by
// attribute, removed strictly in reverse. The root is a parameter; tests run this same code
// against a temporary tree laid out like configfs.
import { lstat, mkdir, readdir, readFile, rmdir, symlink, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MountError } from '../../errno.js';

export interface MassStorageGadgetSpec {
  /** Directory name under usb_gadget, e.g. "mass-storage-Slot_0". */
  name: string;
  /** The block device the host sees, e.g. "/dev/nbd0". */
  backingFile: string;
  /** SCSI CD-ROM (the host's sr driver) instead of a direct-access disk. */
  cdrom: boolean;
  readOnly: boolean;
  serialNumber: string;
  /** USB device controller to bind, e.g. "1e6a0000.usb-vhub:p1" or "dummy_udc.0". */
  udc: string;
}

/** The USB gadgets of configfs. */
export interface Gadget {
  /** Creates and binds a mass-storage gadget; on failure removes what it made, then rejects. */
  create(spec: MassStorageGadgetSpec): Promise<void>;
  /** Unbinds and removes a gadget, whatever state it is in; nothing to do if it is absent. */
  remove(name: string): Promise<void>;
  exists(name: string): Promise<boolean>;
  /** UDC name → name of the gadget bound to it, for every bound gadget (ours or not). */
  boundUdcs(): Promise<Map<string, string>>;
}

/** The file operations the gadget code uses; configfs gives rmdir its own meaning (it removes
 *  a directory together with its attribute files), which a test tree has to imitate. */
export interface ConfigfsOps {
  mkdir(dir: string, recursive: boolean): Promise<void>;
  rmdir(dir: string): Promise<void>;
}

export const realConfigfsOps: ConfigfsOps = {
  async mkdir(dir, recursive) {
    await mkdir(dir, { recursive });
  },
  rmdir: (dir) => rmdir(dir),
};

const FUNCTION = 'mass_storage.usb0';
const CONFIG = 'c.1';
const LANG = '0x409'; // US English, the only string table hosts are sure to ask for

function isErrno(err: unknown, ...codes: string[]): boolean {
  return codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

/** configfs takes one value per write(); a trailing newline is what `echo` sends and is stripped. */
async function writeAttr(file: string, value: string): Promise<void> {
  await writeFile(file, `${value}\n`);
}

export function createConfigfsGadget(configfsRoot: string, ops: ConfigfsOps = realConfigfsOps): Gadget {
  const gadgetsDir = path.join(configfsRoot, 'usb_gadget');
  const dirOf = (name: string): string => path.join(gadgetsDir, name);

  async function entries(dir: string): Promise<string[]> {
    try {
      return await readdir(dir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
  }
  async function removeDir(dir: string): Promise<void> {
    try {
      await ops.rmdir(dir);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }
  async function isDir(p: string): Promise<boolean> {
    return (await lstat(p)).isDirectory();
  }
  async function removeSymlinksIn(dir: string): Promise<void> {
    for (const entry of await entries(dir)) {
      const p = path.join(dir, entry);
      if ((await lstat(p)).isSymbolicLink()) await unlink(p);
    }
  }
  async function removeSubdirsOf(dir: string): Promise<void> {
    for (const entry of await entries(dir)) {
      const p = path.join(dir, entry);
      if (await isDir(p)) await removeDir(p);
    }
  }

  const gadget: Gadget = {
    async create(spec) {
      const g = dirOf(spec.name);
      try {
        await ops.mkdir(g, false);
      } catch (err) {
        if (isErrno(err, 'EEXIST')) throw new MountError('EBUSY', `USB gadget ${spec.name} already exists in configfs`);
        if (isErrno(err, 'ENOENT')) {
          throw new MountError('ENODEV', `no ${gadgetsDir}: configfs is not mounted or libcomposite is not loaded`, {
            cause: err,
          });
        }
        throw new MountError('EIO', `cannot create USB gadget ${spec.name}: ${(err as Error).message}`, { cause: err });
      }
      try {
        await writeAttr(path.join(g, 'idVendor'), '0x1d6b'); // Linux Foundation
        await writeAttr(path.join(g, 'idProduct'), '0x0104'); // Multifunction Composite Gadget
        const strings = path.join(g, 'strings', LANG);
        await ops.mkdir(strings, true);
        await writeAttr(path.join(strings, 'manufacturer'), 'OpenBMC');
        await writeAttr(path.join(strings, 'product'), 'Virtual Media Device');
        await writeAttr(path.join(strings, 'serialnumber'), spec.serialNumber);
        const config = path.join(g, 'configs', CONFIG);
        await ops.mkdir(path.join(config, 'strings', LANG), true);
        await writeAttr(path.join(config, 'strings', LANG, 'configuration'), 'config 1');
        const fn = path.join(g, 'functions', FUNCTION);
        const lun = path.join(fn, 'lun.0'); // configfs makes lun.0 with the function
        await ops.mkdir(lun, true);
        await writeAttr(path.join(lun, 'removable'), '1');
        // ro and cdrom are refused (EBUSY) once a file is open: set them first
        await writeAttr(path.join(lun, 'ro'), spec.readOnly ? '1' : '0');
        await writeAttr(path.join(lun, 'cdrom'), spec.cdrom ? '1' : '0');
        await writeAttr(path.join(lun, 'file'), spec.backingFile);
        await symlink(fn, path.join(config, FUNCTION));
        await writeAttr(path.join(g, 'UDC'), spec.udc);
      } catch (err) {
        await gadget.remove(spec.name).catch(() => undefined);
        if (isErrno(err, 'EBUSY', 'ENODEV')) {
          throw new MountError(
            (err as NodeJS.ErrnoException).code as 'EBUSY' | 'ENODEV',
            `cannot set up USB gadget ${spec.name} on ${spec.udc}: ${(err as Error).message}`,
            { cause: err },
          );
        }
        throw new MountError('EIO', `cannot set up USB gadget ${spec.name}: ${(err as Error).message}`, { cause: err });
      }
    },

    async remove(name) {
      const g = dirOf(name);
      if (!(await gadget.exists(name))) return;
      // reverse of create: unbind, unlink functions from configs, then the directories
      try {
        if ((await readFile(path.join(g, 'UDC'), 'utf8')).trim() !== '') await writeAttr(path.join(g, 'UDC'), '');
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
      const configs = path.join(g, 'configs');
      for (const config of await entries(configs)) {
        await removeSymlinksIn(path.join(configs, config));
        await removeSubdirsOf(path.join(configs, config, 'strings'));
        await removeDir(path.join(configs, config));
      }
      await removeSymlinksIn(path.join(g, 'os_desc'));
      await removeSubdirsOf(path.join(g, 'functions'));
      await removeSubdirsOf(path.join(g, 'strings'));
      await removeDir(g);
    },

    async exists(name) {
      try {
        return await isDir(dirOf(name));
      } catch (err) {
        if (isErrno(err, 'ENOENT')) return false;
        throw err;
      }
    },

    async boundUdcs() {
      const bound = new Map<string, string>();
      for (const name of await entries(gadgetsDir)) {
        try {
          const udc = (await readFile(path.join(gadgetsDir, name, 'UDC'), 'utf8')).trim();
          if (udc) bound.set(udc, name);
        } catch (err) {
          if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err;
        }
      }
      return bound;
    },
  };
  return gadget;
}
