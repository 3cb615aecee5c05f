// smb:// and nfs:// Legacy mounts through the whole chain in the VM: the real daemon (kernel host
// backend) on a private bus, real smbd and kernel nfsd on 127.0.0.1. Legacy.Mount over D-Bus
// (python3-dbus with a credentials pipe for SMB, busctl `sbv … i -1` for NFS) → Completion(0) →
// the VM's USB host reads the image (sha256) from /dev/sdX or /dev/srN → Unmount → Completion(0)
// → no share mount, nbdkit, NBD link or gadget left. A wrong SMB password → Completion(EACCES).
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { IFACE } from '../../src/dbus/names.js';
import { errnoNumber } from '../../src/errno.js';
import { legacyClient, type LegacyClient } from '../sources/helpers/legacy-client.js';
import { procFilesContaining } from '../sources/helpers/provider.js';
import { startShareServers, type ShareServers } from '../sources/helpers/share-servers.js';
import { waitForHostDiskGone } from './helpers/host-disk.js';
import { createRandomImage, MiB, sha256Of } from './helpers/image.js';
import { KernelDaemon, type KernelSlot } from './helpers/kernel-daemon.js';
import { assertSlotReleased, pidsOf } from './helpers/kernel-state.js';
import { requireVm, vmTempDir } from './helpers/vm.js';

requireVm();

// small: the whole chain (share mount, nbdkit, nbd, gadget, usb-storage) runs emulated under TCG
const IMAGE_SIZE = 8 * MiB;
const USER = 'vmtest';
// what bmcweb passes through unchanged and a naive `-o password=` would split or mangle
const PASSWORD = 'pa,ss=word "x" y\'z';
// SMB on a USB stick, NFS on a CD: each media type once
const SLOTS: KernelSlot[] = [
  { name: 'Slot_2', mode: 'Legacy', nbdDevice: 'nbd2' },
  { name: 'Slot_3', mode: 'Legacy', nbdDevice: 'nbd3', mediaType: 'CD' },
];
// the space in the directory name travels %-encoded, as a Redfish client sends it
const SMB_URL = 'smb://127.0.0.1/images/iso%20dir/disk.img';
/** A first CIFS mount under TCG takes ~20 s; Completion comes after it and the USB enumeration. */
const COMPLETION_TIMEOUT_MS = 90_000;

const dir = vmTempDir('vmedia-daemon-shares');
let servers: ShareServers;
let vm: KernelDaemon;
let smbSlot: LegacyClient;
let imageSha: string;
let nfsUrl: string;

before(async () => {
  // the share servers and the daemon start independently: in parallel, under TCG each takes long
  const [shares, daemon] = await Promise.allSettled([
    startShareServers(path.join(dir, 'srv'), USER, PASSWORD),
    KernelDaemon.start({ dir, slots: SLOTS }),
  ]);
  // keep what did start, so that after() stops it when the other failed
  if (shares.status === 'fulfilled') servers = shares.value;
  if (daemon.status === 'fulfilled') vm = daemon.value;
  for (const r of [shares, daemon]) if (r.status === 'rejected') throw r.reason;
  mkdirSync(path.join(servers.smbDir, 'iso dir'));
  const smbImage = path.join(servers.smbDir, 'iso dir', 'disk.img');
  imageSha = await createRandomImage(smbImage, IMAGE_SIZE);
  copyFileSync(smbImage, path.join(servers.nfsDir, 'disk.img'));
  nfsUrl = `nfs://127.0.0.1${servers.nfsDir}/disk.img`;
  smbSlot = await legacyClient(vm.bus.address, 'Slot_2', { completionTimeoutMs: COMPLETION_TIMEOUT_MS });
});

// a failed test must not leave media mounted for the next one
afterEach(async () => {
  for (const { name } of SLOTS) {
    if (await vm.active(name).catch(() => false)) await vm.unmount(name).catch(() => undefined);
  }
});

after(async () => {
  smbSlot?.close();
  await vm?.stop();
  await servers?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Kernel mounts (CIFS, NFS) under the daemon's runtime dir, as /proc/self/mounts lines. */
function shareMounts(): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[1]?.startsWith(`${vm.runtimeDir}/`));
}

/** The daemon's source state dir: mount points, credentials and pid files live here while mounted. */
function sourceStateFiles(): string[] {
  const state = path.join(vm.runtimeDir, 'sources');
  return existsSync(state) ? readdirSync(state).filter((f) => f !== 'tmp' && f !== 'capath') : [];
}

/** Everything a Legacy share mount holds is gone: D-Bus state, gadget, NBD link, nbdkit, share mount, state files. */
async function assertReleased(name: string): Promise<void> {
  assert.equal(await vm.active(name), false);
  assert.equal(await vm.property(name, IFACE.mountPoint, 'ImageURL'), 's ""');
  assertSlotReleased(name, vm.slot(name).nbdDevice);
  assert.deepEqual(pidsOf('nbdkit', vm.socket(name)), [], 'the source nbdkit is stopped');
  assert.deepEqual(shareMounts(), [], 'no share mount left under the runtime dir');
  assert.deepEqual(sourceStateFiles(), [], 'no mount dir, credentials or pid file left');
}

async function unmountAndCheck(name: string): Promise<void> {
  const serial = vm.serial(name);
  assert.equal(await vm.unmount(name), 0, vm.daemon.output().slice(-3000));
  await waitForHostDiskGone(serial);
  await assertReleased(name);
}

async function assertHostReadsImage(name: string, scsiType: number): Promise<void> {
  const disk = await vm.hostDisk(name, { readOnly: true });
  assert.equal(disk.scsiType, scsiType, `${disk.path}: SCSI type`);
  assert.equal(disk.size, IMAGE_SIZE, `${disk.path}: size`);
  assert.equal(await sha256Of(disk.path), imageSha, `sha256 of ${disk.path}`);
}

test('smb:// with a credentials pipe (sbv fd): Completion(0), sealed read-only CIFS mount, /dev/sdX has the image; Unmount releases everything', async () => {
  const code = await smbSlot.mountWithPipe(SMB_URL, USER, PASSWORD, 'sbv');
  assert.equal(code, 0, vm.daemon.output().slice(-3000));
  assert.equal(await vm.active('Slot_2'), true);
  assert.equal(await smbSlot.imageUrl(), `s "${SMB_URL}"`);
  const [mount, ...more] = shareMounts();
  assert.deepEqual(more, [], 'one share mount');
  assert.match(mount ?? '', / cifs ro,.*vers=3\.1\.1.*,seal/, 'SMB 3.1.1, encrypted, read-only');
  assert.deepEqual(
    sourceStateFiles().filter((f) => f.endsWith('.cred')),
    [],
    'the credentials file is removed after the mount',
  );
  assert.deepEqual(procFilesContaining(PASSWORD), [], 'password in some argv or environ');
  await assertHostReadsImage('Slot_2', 0);
  await unmountAndCheck('Slot_2');
  assert.ok(!vm.daemon.output().includes(PASSWORD), 'password in the daemon log');
});

test('nfs:// without credentials (busctl sbv … i -1), CD: Completion(0), read-only NFS mount, /dev/srN has the image; Unmount releases everything', async () => {
  assert.equal(await vm.mount('Slot_3', nfsUrl), 0, vm.daemon.output().slice(-3000));
  assert.equal(await vm.property('Slot_3', IFACE.mountPoint, 'ImageURL'), `s "${nfsUrl}"`);
  const [mount, ...more] = shareMounts();
  assert.deepEqual(more, [], 'one share mount');
  assert.match(mount ?? '', / nfs4? ro,/, 'read-only NFS mount');
  assert.match((await vm.hostDisk('Slot_3')).name, /^sr\d+$/);
  await assertHostReadsImage('Slot_3', 5);
  await unmountAndCheck('Slot_3');
});

test('smb:// with the wrong password (sbh pipe): Completion(EACCES), nothing left', async () => {
  assert.equal(
    await smbSlot.mountWithPipe(SMB_URL, USER, 'wrong', 'sbh'),
    errnoNumber('EACCES'),
    vm.daemon.output().slice(-3000),
  );
  await assertReleased('Slot_2');
});
