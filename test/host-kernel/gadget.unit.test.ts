// The configfs gadget code against a temporary tree laid out like configfs: the attributes of
// §6, teardown strictly in reverse, rollback of a half-made gadget, UDC bookkeeping.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import type { MountError } from '../../src/errno.js';
import { createConfigfsGadget, type Gadget, type MassStorageGadgetSpec } from '../../src/host/kernel/gadget.js';
import { createConfigfsTree, type ConfigfsTree } from './configfs-tree.js';

const SPEC: MassStorageGadgetSpec = {
  name: 'mass-storage-Slot_0',
  backingFile: '/dev/nbd0',
  cdrom: true,
  readOnly: true,
  serialNumber: '0123456789ABCDEF01234567',
  udc: 'dummy_udc.1',
};

let tree: ConfigfsTree;
let gadget: Gadget;
const g = (...parts: string[]) => path.join(tree.root, 'usb_gadget', SPEC.name, ...parts);
const attr = (...parts: string[]) => readFileSync(g(...parts), 'utf8');

beforeEach(() => {
  tree = createConfigfsTree();
  mkdirSync(path.join(tree.root, 'usb_gadget'));
  gadget = createConfigfsGadget(tree.root, tree.ops);
});
afterEach(() => tree.remove());

test('create writes the mass-storage gadget of docs/architecture.md and binds the UDC last', async () => {
  await gadget.create(SPEC);
  assert.equal(attr('idVendor'), '0x1d6b\n');
  assert.equal(attr('idProduct'), '0x0104\n');
  assert.equal(attr('strings/0x409/manufacturer'), 'OpenBMC\n');
  assert.equal(attr('strings/0x409/product'), 'Virtual Media Device\n');
  assert.equal(attr('strings/0x409/serialnumber'), `${SPEC.serialNumber}\n`);
  assert.equal(attr('configs/c.1/strings/0x409/configuration'), 'config 1\n');
  const lun = 'functions/mass_storage.usb0/lun.0';
  assert.equal(attr(lun, 'removable'), '1\n');
  assert.equal(attr(lun, 'ro'), '1\n');
  assert.equal(attr(lun, 'cdrom'), '1\n');
  assert.equal(attr(lun, 'file'), '/dev/nbd0\n');
  assert.equal(readlinkSync(g('configs/c.1/mass_storage.usb0')), g('functions/mass_storage.usb0'));
  assert.equal(attr('UDC'), 'dummy_udc.1\n');
  assert.equal(await gadget.exists(SPEC.name), true);
  assert.deepEqual(await gadget.boundUdcs(), new Map([['dummy_udc.1', SPEC.name]]));
});

test('a USB stick that may be written: cdrom=0, ro=0', async () => {
  await gadget.create({ ...SPEC, cdrom: false, readOnly: false });
  assert.equal(attr('functions/mass_storage.usb0/lun.0/cdrom'), '0\n');
  assert.equal(attr('functions/mass_storage.usb0/lun.0/ro'), '0\n');
});

test('remove unbinds first, then removes links and directories in reverse order of creation', async () => {
  await gadget.create(SPEC);
  tree.journal.length = 0;
  await gadget.remove(SPEC.name);
  assert.equal(existsSync(g()), false);
  assert.deepEqual(tree.journal, [
    'rmdir usb_gadget/mass-storage-Slot_0/configs/c.1/strings/0x409',
    'rmdir usb_gadget/mass-storage-Slot_0/configs/c.1',
    'rmdir usb_gadget/mass-storage-Slot_0/functions/mass_storage.usb0',
    'rmdir usb_gadget/mass-storage-Slot_0/strings/0x409',
    'rmdir usb_gadget/mass-storage-Slot_0',
  ]);
  assert.deepEqual(await gadget.boundUdcs(), new Map());
});

test('remove of an absent gadget does nothing; remove twice is fine', async () => {
  await gadget.remove('mass-storage-Slot_9');
  await gadget.create(SPEC);
  await gadget.remove(SPEC.name);
  await gadget.remove(SPEC.name);
  assert.equal(await gadget.exists(SPEC.name), false);
});

test('a gadget directory that exists already: EBUSY, and it is left alone', async () => {
  mkdirSync(g('UDC'), { recursive: true });
  await assert.rejects(
    gadget.create(SPEC),
    (err: MountError) => err.errno === 'EBUSY' && err.message.includes(SPEC.name),
  );
  assert.equal(existsSync(g('UDC')), true);
});

test('a write that fails after mkdir rolls back the whole gadget (EIO)', async () => {
  const failing = createConfigfsGadget(tree.root, {
    ...tree.ops,
    async mkdir(dir, recursive) {
      if (dir.endsWith('lun.0')) throw Object.assign(new Error('no such function'), { code: 'ENOENT' });
      await tree.ops.mkdir(dir, recursive);
    },
  });
  await assert.rejects(failing.create(SPEC), (err: MountError) => {
    assert.equal(err.errno, 'EIO');
    assert.match(err.message, /mass-storage-Slot_0/);
    return true;
  });
  assert.equal(existsSync(g()), false, 'nothing of the half-made gadget is left');
});

test('no usb_gadget directory: ENODEV that says configfs/libcomposite is missing', async () => {
  const bare = createConfigfsGadget(path.join(tree.root, 'nowhere'), tree.ops);
  await assert.rejects(bare.create(SPEC), (err: MountError) => err.errno === 'ENODEV' && /configfs/.test(err.message));
});

test('boundUdcs lists every bound gadget, ours or not, and skips unbound ones', async () => {
  const other = path.join(tree.root, 'usb_gadget', 'kvm-hid');
  mkdirSync(other);
  writeFileSync(path.join(other, 'UDC'), '1e6a0000.usb-vhub:p1\n');
  const idle = path.join(tree.root, 'usb_gadget', 'idle');
  mkdirSync(idle);
  writeFileSync(path.join(idle, 'UDC'), '\n');
  await gadget.create(SPEC);
  assert.deepEqual(
    await gadget.boundUdcs(),
    new Map([
      ['1e6a0000.usb-vhub:p1', 'kvm-hid'],
      ['dummy_udc.1', SPEC.name],
    ]),
  );
});
