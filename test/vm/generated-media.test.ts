// Generated media through the kernel backend in the VM: a config drive in a CD slot and a NoCloud
// stick in a USB slot, mounted with GeneratedMedia.Mount (the document's fd passed over D-Bus).
// The gadget shows the ISO as a CD-ROM /dev/srN and the FAT image as a removable /dev/sdX; the
// VM mounts both, finds the files and the nonce D-Bus shows, and both stay while the other goes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { IFACE } from '../../src/dbus/names.js';
import { DaemonClient } from '../../src/web/daemon/client.js';
import { documentFor } from '../generated-media/inputs.js';
import { waitForHostDiskGone, type HostDisk } from './helpers/host-disk.js';
import { KernelDaemon, type KernelSlot } from './helpers/kernel-daemon.js';
import { assertSlotReleased } from './helpers/kernel-state.js';
import { requireVm, vmTempDir } from './helpers/vm.js';

requireVm();

const run = promisify(execFile);
/** Attach + USB enumeration under TCG. */
const COMPLETION_WAIT_MS = 120_000;
const SLOTS: KernelSlot[] = [
  { name: 'Slot_2', mode: 'Legacy', nbdDevice: 'nbd2', mediaType: 'CD' },
  { name: 'Slot_3', mode: 'Legacy', nbdDevice: 'nbd3', mediaType: 'USBStick' },
];

const dir = vmTempDir('vmedia-generated-media');
let vm: KernelDaemon;
let client: DaemonClient;

before(async () => {
  vm = await KernelDaemon.start({ dir, slots: SLOTS });
  client = await DaemonClient.connect(vm.bus.address);
});

after(async () => {
  client?.disconnect();
  await vm?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** GeneratedMedia.Mount with the document in a file (its fd is what D-Bus carries); the nonce. */
async function mountGenerated(name: string, document: object): Promise<string> {
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(document), { mode: 0o600 });
  const fd = openSync(file, 'r');
  try {
    const slot = (await client.slot(name))!;
    const errno = await client.mountGenerated(slot, { fd, rw: false }, COMPLETION_WAIT_MS);
    assert.equal(errno, 0, vm.daemon.output().slice(-3000));
  } finally {
    closeSync(fd);
  }
  const nonce = (await vm.property(name, IFACE.generatedMedia, 'Nonce')).replace(/^s "(.*)"$/, '$1');
  assert.match(nonce, /^[0-9a-f]{32}$/);
  return nonce;
}

/** Mounts the host disk read-only, hands its root to `check`, unmounts. */
async function withMounted(disk: HostDisk, fsType: string, check: (root: string) => void): Promise<void> {
  const root = path.join(dir, `mnt-${disk.name}`);
  mkdirSync(root, { recursive: true });
  await run('mount', ['-t', fsType, '-o', 'ro', disk.path, root]);
  try {
    check(root);
  } finally {
    await run('umount', [root]);
  }
}

test('a config drive in the CD slot is a CD-ROM ISO, a NoCloud stick in the USB slot a removable FAT disk; each has its nonce and files', async () => {
  const cdNonce = await mountGenerated('Slot_2', documentFor('config-2'));
  const usbNonce = await mountGenerated('Slot_3', documentFor('nocloud'));
  assert.notEqual(cdNonce, usbNonce);

  const cd = await vm.hostDisk('Slot_2');
  assert.equal(cd.scsiType, 5, `${cd.name} is a CD-ROM`);
  assert.match(cd.name, /^sr\d+$/);
  const { stdout: cdLabel } = await run('blkid', ['-p', '-o', 'value', '-s', 'LABEL', cd.path]);
  assert.equal(cdLabel.trim(), 'config-2');
  await withMounted(cd, 'iso9660', (root) => {
    assert.equal(readFileSync(path.join(root, 'vmedia-nonce'), 'utf8').trim(), cdNonce);
    const meta = JSON.parse(readFileSync(path.join(root, 'openstack/latest/meta_data.json'), 'utf8')) as {
      hostname: string;
    };
    assert.equal(meta.hostname, documentFor('config-2').meta_data!.hostname);
  });

  const usb = await vm.hostDisk('Slot_3');
  assert.equal(usb.scsiType, 0, `${usb.name} is a disk`);
  assert.equal(readFileSync(`/sys/block/${usb.name}/removable`, 'utf8').trim(), '1', 'a removable stick');
  const { stdout: usbLabel } = await run('blkid', ['-p', '-o', 'value', '-s', 'LABEL', usb.path]);
  assert.equal(usbLabel.trim(), 'CIDATA');
  await withMounted(usb, 'vfat', (root) => {
    assert.equal(readFileSync(path.join(root, 'vmedia-nonce'), 'utf8').trim(), usbNonce);
    assert.match(readFileSync(path.join(root, 'meta-data'), 'utf8'), /local-hostname: ['"]?node-1\.example\.net/);
    assert.match(readFileSync(path.join(root, 'user-data'), 'utf8'), /^#cloud-config/);
  });

  // ejecting the CD leaves the stick to the host, and the other way round
  const cdSerial = vm.serial('Slot_2');
  assert.equal(await vm.unmount('Slot_2'), 0);
  await waitForHostDiskGone(cdSerial);
  assertSlotReleased('Slot_2', 'nbd2');
  assert.equal(await vm.active('Slot_3'), true);
  assert.equal((await vm.hostDisk('Slot_3')).name, usb.name);
  const usbSerial = vm.serial('Slot_3');
  assert.equal(await vm.unmount('Slot_3'), 0);
  await waitForHostDiskGone(usbSerial);
  assertSlotReleased('Slot_3', 'nbd3');
  assert.equal(await vm.property('Slot_3', IFACE.generatedMedia, 'Nonce'), 's ""');
});
