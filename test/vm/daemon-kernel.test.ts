// The whole chain in the VM: the real daemon (kernel host backend) on a private bus, driven by
// busctl. Legacy HTTPS (a Node https server, CA in the TrustStore) and Proxy (nbdkit on the slot
// socket, standing in for the browser) mounts reach the VM's USB host as /dev/sdX or /dev/srN
// with their image's sha256; writes reach the source; failures come back as Completion errnos;
// a crashed daemon's leftovers are cleaned at restart; the inactivity timeout ejects idle media.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, afterEach, before, test } from 'node:test';
import { errnoNumber } from '../../src/errno.js';
import { IFACE } from '../../src/dbus/names.js';
import { startImageServer, type ImageServer } from '../sources/helpers/image-server.js';
import { createTestCa } from '../sources/helpers/test-ca.js';
import { waitForHostDiskGone } from './helpers/host-disk.js';
import { createRandomImage, MiB, readAt, sha256Of } from './helpers/image.js';
import { KernelDaemon, type KernelSlot } from './helpers/kernel-daemon.js';
import { assertSlotReleased, boundUdcs, gadgetNames, nbdSize, pidsOf } from './helpers/kernel-state.js';
import { startNbdkitFile, type NbdkitServer } from './helpers/nbdkit.js';
import { requireVm, vmTempDir } from './helpers/vm.js';
import { waitFor } from '../helpers/wait.js';

requireVm();

const run = promisify(execFile);
interface Image {
  path: string;
  size: number;
  sha: string;
}
// 64 MiB through the Proxy path; the HTTPS source reads at well under 1 MiB/s under TCG (nbdkit
// curl and a Node TLS server, both emulated), so its image is smaller to keep the VM run short
const PROXY_IMAGE_SIZE = 64 * MiB;
const HTTPS_IMAGE_SIZE = 16 * MiB;
// Proxy media here is a CD and Legacy media a stick: each path once, each media type once
// (a 64 MiB read over HTTPS costs minutes under TCG)
const SLOTS: KernelSlot[] = [
  { name: 'Slot_0', mode: 'Proxy', nbdDevice: 'nbd0', mediaType: 'CD' },
  { name: 'Slot_2', mode: 'Legacy', nbdDevice: 'nbd2' },
];

const dir = vmTempDir('vmedia-daemon-kernel');
let proxyImage: Image;
let httpsImage: Image;
let server: ImageServer;
let url: string;
let vm: KernelDaemon;
let proxyServer: NbdkitServer | undefined;

before(async () => {
  const makeImage = async (name: string, size: number): Promise<Image> => {
    const file = path.join(dir, name);
    return { path: file, size, sha: await createRandomImage(file, size) };
  };
  proxyImage = await makeImage('proxy.img', PROXY_IMAGE_SIZE);
  httpsImage = await makeImage('https.img', HTTPS_IMAGE_SIZE);
  const ca = createTestCa(path.join(dir, 'ca'));
  const trust = path.join(dir, 'truststore');
  mkdirSync(trust);
  writeFileSync(path.join(trust, 'test-ca.pem'), ca.caPem);
  server = await startImageServer({
    files: new Map([['/disk.img', httpsImage.path]]),
    tls: { key: ca.serverKey, cert: ca.serverCert },
  });
  url = `${server.origin}/disk.img`;
  vm = await KernelDaemon.start({ dir, slots: SLOTS, trustStore: trust });
});

// a failed test must not leave media mounted for the next one
afterEach(async () => {
  for (const { name } of SLOTS) {
    if (await vm.active(name).catch(() => false)) await vm.unmount(name).catch(() => undefined);
  }
  await stopProxyServer();
});

after(async () => {
  await proxyServer?.stop();
  await vm?.stop();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What Unmount (or an eject) must leave: no gadget, UDC free, NBD empty, no nbd-client, no source nbdkit. */
async function assertReleased(name: string): Promise<void> {
  const slot = vm.slot(name);
  assert.equal(await vm.active(name), false);
  assert.equal(await vm.property(name, IFACE.mountPoint, 'ImageURL'), 's ""');
  assertSlotReleased(name, slot.nbdDevice);
  if (slot.mode === 'Legacy') assert.deepEqual(pidsOf('nbdkit', vm.socket(name)), [], 'the source nbdkit is stopped');
}

async function unmountAndCheck(name: string, serial: string): Promise<void> {
  assert.equal(await vm.unmount(name), 0);
  await waitForHostDiskGone(serial);
  await assertReleased(name);
}

async function startProxyServer(): Promise<NbdkitServer> {
  proxyServer = await startNbdkitFile({ socket: vm.socket('Slot_0'), file: proxyImage.path, readonly: true });
  return proxyServer;
}

async function stopProxyServer(): Promise<void> {
  await proxyServer?.stop();
  proxyServer = undefined;
}

async function assertFullRead(name: string, expectType: number, image: Image): Promise<void> {
  const disk = await vm.hostDisk(name);
  assert.equal(disk.scsiType, expectType);
  assert.equal(disk.size, image.size);
  assert.equal(await sha256Of(disk.path), image.sha, `sha256 of ${disk.path}`);
  // the BMC's page cache may serve the few blocks the kernel read at connect
  await waitFor(`ReadIO of ${name} to count the read`, async () => (await vm.readIO(name)) >= image.size - 4 * MiB, {
    timeoutMs: 10_000,
    intervalMs: 250,
  });
}

/** The block size the kernel's NBD device got (the slot's BlockSize, via nbd-client -b). */
function logicalBlockSize(device: string): number {
  return Number(readFileSync(`/sys/block/${device}/queue/logical_block_size`, 'utf8').trim());
}

test('Legacy HTTPS, USBStick: Completion(0), /dev/sdX has the image (sha256), ReadIO counts it; Unmount releases everything', async () => {
  assert.equal(await vm.mount('Slot_2', url), 0, vm.daemon.output().slice(-3000));
  assert.equal(await vm.active('Slot_2'), true);
  assert.equal(await vm.property('Slot_2', IFACE.mountPoint, 'WriteProtected'), 'b true');
  assert.equal(logicalBlockSize('nbd2'), 512, 'BlockSize reaches the kernel through nbd-client -b');
  const serial = vm.serial('Slot_2');
  await assertFullRead('Slot_2', 0, httpsImage);
  await unmountAndCheck('Slot_2', serial);
});

test('Proxy, CD: an NBD server on the slot socket, Mount → the host sees a CD-ROM /dev/srN with the image (sha256)', async () => {
  await startProxyServer();
  assert.equal(await vm.mount('Slot_0'), 0, vm.daemon.output().slice(-3000));
  const serial = vm.serial('Slot_0');
  assert.match((await vm.hostDisk('Slot_0')).name, /^sr\d+$/);
  await assertFullRead('Slot_0', 5, proxyImage);
  await unmountAndCheck('Slot_0', serial);
  await stopProxyServer();
});

test('Legacy writable (WriteProtected false): what the host writes reaches the NBD source; WriteIO counts it', async () => {
  assert.equal(await vm.mount('Slot_2', url, true), 0, vm.daemon.output().slice(-3000));
  assert.equal(await vm.property('Slot_2', IFACE.mountPoint, 'WriteProtected'), 'b false');
  const disk = await vm.hostDisk('Slot_2');
  assert.equal(disk.readOnly, false);
  const patch = path.join(dir, 'patch.bin');
  const bytes = randomBytes(MiB);
  writeFileSync(patch, bytes);
  await run('dd', [`if=${patch}`, `of=${disk.path}`, 'bs=1M', 'seek=3', 'oflag=direct', 'conv=fsync']);
  // read back from the source itself: a second client of the slot's nbdkit sees the overlay
  const { stdout } = await run(
    '/usr/bin/nbdsh',
    [
      '-u',
      `nbd+unix:///?socket=${vm.socket('Slot_2')}`,
      '-c',
      `import sys; sys.stdout.buffer.write(h.pread(${MiB}, ${3 * MiB}))`,
    ],
    { encoding: 'buffer', maxBuffer: 2 * MiB, env: { ...process.env, PATH: `/usr/bin:${process.env.PATH}` } },
  ); // Debian's python3 has the nbd module
  assert.ok(Buffer.from(stdout).equals(bytes), 'the source has the bytes the host wrote');
  await waitFor('WriteIO to count the write', async () => (await vm.writeIO('Slot_2')) >= MiB, {
    timeoutMs: 10_000,
    intervalMs: 250,
  });
  await unmountAndCheck('Slot_2', vm.serial('Slot_2'));
});

test('two slots mounted at once bind the two UDCs; both disks read right', async () => {
  await startProxyServer();
  assert.equal(await vm.mount('Slot_0'), 0);
  assert.equal(await vm.mount('Slot_2', url), 0);
  const bound = boundUdcs();
  assert.deepEqual([...bound.values()].sort(), ['mass-storage-Slot_0', 'mass-storage-Slot_2']);
  assert.deepEqual([...bound.keys()].sort(), ['dummy_udc.0', 'dummy_udc.1']);
  const [serial0, serial2] = ['Slot_0', 'Slot_2'].map((n) => vm.serial(n)) as [string, string];
  for (const [name, image] of [
    ['Slot_0', proxyImage],
    ['Slot_2', httpsImage],
  ] as const) {
    const disk = await vm.hostDisk(name);
    const tail = await readAt(image.path, image.size - MiB, MiB);
    assert.ok(
      (await readAt(disk.path, image.size - MiB, MiB)).equals(tail),
      `${name}: ${disk.path} ends with its image`,
    );
  }
  await unmountAndCheck('Slot_0', serial0);
  await unmountAndCheck('Slot_2', serial2);
  await stopProxyServer();
});

test('Proxy: the NBD server killed mid-read → Ready with Completion(ECONNREFUSED), daemon alive', async () => {
  const nbdkit = await startProxyServer();
  assert.equal(await vm.mount('Slot_0'), 0);
  const serial = vm.serial('Slot_0');
  const disk = await vm.hostDisk('Slot_0');
  const reading = sha256Of(disk.path).then(
    () => 'the whole disk was read',
    (err: Error) => err,
  );
  const lost = vm.nextCompletion('Slot_0');
  await waitFor('the host to be reading', async () => (await vm.readIO('Slot_0')) > 4 * MiB, {
    timeoutMs: 30_000,
    intervalMs: 100,
  });
  await nbdkit.kill();
  proxyServer = undefined;
  assert.equal(await lost, errnoNumber('ECONNREFUSED'));
  assert.ok((await reading) instanceof Error, 'the interrupted read fails');
  await waitForHostDiskGone(serial);
  await assertReleased('Slot_0');
  assert.equal(await vm.property('Slot_0', IFACE.mountPoint, 'Device'), 's "nbd0"', 'the daemon still answers');
});

test('Legacy: nbd-client killed → Ready with Completion(ECONNREFUSED), the source stopped too', async () => {
  assert.equal(await vm.mount('Slot_2', url), 0);
  const serial = vm.serial('Slot_2');
  const [pid] = pidsOf('nbd-client', '/dev/nbd2');
  assert.ok(pid, 'nbd-client runs while mounted');
  const lost = vm.nextCompletion('Slot_2');
  process.kill(pid, 'SIGKILL');
  assert.equal(await lost, errnoNumber('ECONNREFUSED'));
  await waitForHostDiskGone(serial);
  await assertReleased('Slot_2');
});

test('daemon killed with media mounted: the restarted daemon removes the gadget and NBD link it left', async () => {
  await startProxyServer();
  assert.equal(await vm.mount('Slot_0'), 0);
  const serial = vm.serial('Slot_0');
  await vm.hostDisk('Slot_0');
  await vm.kill();
  assert.ok(gadgetNames().includes('mass-storage-Slot_0'), 'the crash left the gadget');
  assert.ok(nbdSize('nbd0') > 0, 'the crash left the NBD link');
  await vm.restart({ inactivityTimeout: 5 });
  await waitForHostDiskGone(serial);
  await assertReleased('Slot_0');
  await stopProxyServer();
});

test('inactivity timeout (5 s): an idle mount is ejected with Completion(0), a busy one stays', async () => {
  await startProxyServer();
  assert.equal(await vm.mount('Slot_2', url), 0);
  const busySerial = vm.serial('Slot_2');
  const busy = await vm.hostDisk('Slot_2');
  // the busy host reads a new block every 0.5 s, O_DIRECT on its side. The BMC's cache of
  // /dev/nbd2 is dropped before each read: with the 4 MiB the kernel reads ahead on it (NbdQueue),
  // most reads of this 16 MiB image, sequential or scattered, were served from that cache with no
  // IO on the device for longer than the timeout (a CI run), and IO on the device is what counts
  const reader = spawn('sh', [
    '-c',
    `i=0; while [ $i -lt 500 ]; do blockdev --flushbufs /dev/nbd2; dd if=${busy.path} of=/dev/null bs=64k count=1 skip=$i iflag=direct 2>/dev/null; i=$((i+1)); sleep 0.5; done`,
  ]);
  const readerExit = new Promise((resolve) => reader.once('exit', resolve));
  try {
    assert.equal(await vm.mount('Slot_0'), 0);
    const idleSerial = vm.serial('Slot_0');
    const idleEjected = vm.nextCompletion('Slot_0', 30_000);
    assert.equal(await idleEjected, 0);
    await waitForHostDiskGone(idleSerial);
    await assertReleased('Slot_0');
    const readBefore = await vm.readIO('Slot_2');
    await new Promise((r) => setTimeout(r, 7000)); // longer than the timeout, with IO all along
    assert.equal(await vm.active('Slot_2'), true, 'the busy mount stays');
    const readDuring = (await vm.readIO('Slot_2')) - readBefore;
    assert.ok(readDuring >= 4 * 64 * 1024, `the host's reads reached /dev/nbd2: ${readDuring} bytes in 7 s`);
    const remaining = Number(
      (await vm.property('Slot_2', IFACE.mountPoint, 'RemainingInactivityTimeout')).replace(/^i /, ''),
    );
    assert.ok(remaining > 0 && remaining <= 5, `RemainingInactivityTimeout ${remaining}`);
  } finally {
    reader.kill();
    await readerExit;
  }
  // once its IO stops, the busy one goes too
  assert.equal(await vm.nextCompletion('Slot_2', 30_000), 0);
  await waitForHostDiskGone(busySerial);
  await assertReleased('Slot_2');
});
