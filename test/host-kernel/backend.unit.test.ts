// The kernel backend's sequencing on temporary sysfs/configfs trees, with a stand-in for
// nbd-client (the real one needs /dev/nbd, which only the VM has: test/vm is the evidence that
// the chain works). Covers what is slow or awkward to provoke in the VM: every rollback path,
// the UDC choice next to a foreign gadget, loss reporting and stale clean-up.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { pino } from 'pino';
import type { SlotConfig } from '../../src/config/types.js';
import type { MountError } from '../../src/errno.js';
import { createKernelBackend } from '../../src/host/kernel/backend.js';
import { createConfigfsGadget } from '../../src/host/kernel/gadget.js';
import { createNbdDevice } from '../../src/host/kernel/nbd-device.js';
import { createProcessRunner } from '../../src/process/runner.js';
import { listUdcs } from '../../src/host/kernel/udc.js';
import type { HostBackend } from '../../src/host/types.js';
import { waitFor } from '../helpers/wait.js';
import { createConfigfsTree, type ConfigfsTree } from './configfs-tree.js';
import { createSysfsTree, type SysfsTree } from './sysfs-tree.js';

const slot: SlotConfig = {
  name: 'Slot_0',
  mode: 'proxy',
  endpointId: '/nbd/0',
  nbdDevice: 'nbd0',
  unixSocket: '/run/x/nbd0.sock',
  timeout: 2,
  mediaType: 'CD',
};
let sys: SysfsTree;
let cfs: ConfigfsTree;
let backend: HostBackend;
let makeBackend: (nbdArgs?: string[]) => HostBackend;
/** Reads of a device's size so far: the size watch's polls (every 20 ms), for a test to wait on. */
let sizeReads = 0;
/** Whether the gadget existed when each setQueue() ran: the gadget must open a tuned device. */
let gadgetAtSetQueue: boolean[] = [];
const gadgetDir = () => path.join(cfs.root, 'usb_gadget', 'mass-storage-Slot_0');

/**
 * Behaves like `nbd-client -t T -u SOCK DEV -n -L` towards sysfs: sets the size and pid, then
 * stays until the size is 0 again (`nbd-client -d DEV` sets it). A socket path containing
 * "refused" makes it fail like a connect to nobody.
 */
function standInNbdClient(): string {
  const script = path.join(sys.root, 'nbd-client');
  writeFileSync(
    script,
    `#!/bin/sh
B=${sys.root}/block
if [ "$1" = -d ]; then echo 0 > $B/$(basename $2)/size; exit 0; fi
case "$4" in *refused*) echo "Error: CONNECT failed" >&2; exit 1;; esac
D=$B/$(basename $5)
echo 2048 > $D/size; echo $$ > $D/pid
case " $* " in *" -L "*) ;; *) exit 0;; esac # netlink: the kernel keeps the link, the client is done
while [ "$(cat $D/size)" != 0 ]; do sleep 0.02; done
rm -f $D/pid
`,
  );
  chmodSync(script, 0o755);
  return script;
}

beforeEach(() => {
  sys = createSysfsTree(['nbd0', 'nbd1']);
  for (const udc of ['dummy_udc.0', 'dummy_udc.1'])
    mkdirSync(path.join(sys.root, 'class', 'udc', udc), { recursive: true });
  cfs = createConfigfsTree();
  mkdirSync(path.join(cfs.root, 'usb_gadget'));
  const log = pino({ level: 'silent' });
  const runner = createProcessRunner(log);
  const client = standInNbdClient();
  makeBackend = (args) =>
    createKernelBackend(
      {
        gadget: createConfigfsGadget(cfs.root, cfs.ops),
        monitor: undefined,
        device: (name) => {
          const device = createNbdDevice({
            name,
            sysRoot: sys.root,
            devRoot: '/dev',
            nbdClient: { path: client, args },
            runner,
          });
          return {
            ...device,
            size: () => {
              sizeReads++;
              return device.size();
            },
            setQueue: (queue) => {
              gadgetAtSetQueue.push(existsSync(gadgetDir()));
              return device.setQueue(queue);
            },
          };
        },
        udcs: () => listUdcs(sys.root),
        queue: { readAheadKiB: 4096, maxRequestKiB: 1024 },
        log,
      },
      { pollMs: 20, killAfterMs: 200, releaseTimeoutMs: 2000 },
    );
  gadgetAtSetQueue = [];
  backend = makeBackend();
});
afterEach(async () => {
  await backend.close();
  sys.remove();
  cfs.remove();
});

/** A gadget that is not ours holding a controller, like OpenBMC's KVM HID gadget. */
function foreignGadgetOn(udc: string): void {
  mkdirSync(path.join(cfs.root, 'usb_gadget', 'kvm-hid'));
  writeFileSync(path.join(cfs.root, 'usb_gadget', 'kvm-hid', 'UDC'), `${udc}\n`);
}

/** Resolves once the size watch has read the size `n` more times and handled each read (reads run
 *  one at a time: the next starts only after the last was handled). */
async function polls(n: number): Promise<void> {
  const from = sizeReads;
  await waitFor(`${n} more reads of the device size`, () => sizeReads >= from + n + 1);
}

const queueAttr = (attr: string) => readFileSync(path.join(sys.root, 'block', 'nbd0', 'queue', attr), 'utf8');
const nbdSectors = () => Number(readFileSync(path.join(sys.root, 'block', 'nbd0', 'size'), 'utf8'));
const clientRunning = () => existsSync(path.join(sys.root, 'block', 'nbd0', 'pid'));

test('attach: device connected, gadget on the controller the KVM gadget leaves free; detach undoes all', async () => {
  foreignGadgetOn('dummy_udc.0');
  const attachment = await backend.attach(
    { slot, socket: slot.unixSocket, writable: true, mediaType: 'CD' },
    assert.fail,
  );
  assert.equal(readFileSync(path.join(gadgetDir(), 'UDC'), 'utf8'), 'dummy_udc.1\n');
  const lun = path.join(gadgetDir(), 'functions/mass_storage.usb0/lun.0');
  assert.equal(readFileSync(path.join(lun, 'file'), 'utf8'), '/dev/nbd0\n');
  assert.equal(readFileSync(path.join(lun, 'cdrom'), 'utf8'), '1\n');
  assert.equal(readFileSync(path.join(lun, 'ro'), 'utf8'), '1\n', 'a CD is read-only media even when writable');
  assert.match(readFileSync(path.join(gadgetDir(), 'strings/0x409/serialnumber'), 'utf8'), /^[0-9A-F]{24}\n$/);
  assert.equal(queueAttr('read_ahead_kb'), '4096\n');
  assert.equal(queueAttr('max_sectors_kb'), '1024\n');
  assert.deepEqual(gadgetAtSetQueue, [false], 'the queue is set once, before the gadget opens the device');

  sys.setStat('nbd0', '5 0 4096 0 1 0 16 0 0 0 0 0 0 0 0 0 0');
  assert.deepEqual(
    attachment.stats(),
    { readBytes: 4096 * 512, writeBytes: 16 * 512, inFlight: 0 },
    'bytes since the attach',
  );

  await attachment.detach();
  assert.equal(existsSync(gadgetDir()), false);
  assert.equal(nbdSectors(), 0);
  assert.equal(clientRunning(), false);
  assert.equal(
    readFileSync(path.join(cfs.root, 'usb_gadget', 'kvm-hid', 'UDC'), 'utf8'),
    'dummy_udc.0\n',
    'the foreign gadget is untouched',
  );
  await attachment.detach(); // idempotent
});

test('the pinned controller is busy: EBUSY, and the NBD link is undone before the rejection', async () => {
  foreignGadgetOn('dummy_udc.0');
  const pinned = { ...slot, udc: 'dummy_udc.0' };
  await assert.rejects(
    backend.attach({ slot: pinned, socket: slot.unixSocket, writable: false, mediaType: 'CD' }, assert.fail),
    (err: MountError) => err.errno === 'EBUSY' && /kvm-hid/.test(err.message),
  );
  assert.equal(nbdSectors(), 0);
  assert.equal(clientRunning(), false);
  assert.equal(existsSync(gadgetDir()), false);
});

test('nbd-client fails to connect: ECONNREFUSED, nothing left', async () => {
  await assert.rejects(
    backend.attach({ slot, socket: '/run/x/refused.sock', writable: false, mediaType: 'CD' }, assert.fail),
    (err: MountError) => err.errno === 'ECONNREFUSED' && /exit code 1/.test(err.message),
  );
  assert.equal(existsSync(gadgetDir()), false);
  assert.equal(nbdSectors(), 0);
});

test('the device never gets a size: ETIMEDOUT after the slot Timeout, nbd-client stopped', async () => {
  // a stand-in that connects nothing and just waits
  writeFileSync(path.join(sys.root, 'nbd-client'), '#!/bin/sh\n[ "$1" = -d ] && exit 0\nexec sleep 30\n');
  const started = Date.now();
  await assert.rejects(
    backend.attach(
      { slot: { ...slot, timeout: 1 }, socket: slot.unixSocket, writable: false, mediaType: 'CD' },
      assert.fail,
    ),
    (err: MountError) => err.errno === 'ETIMEDOUT',
  );
  assert.ok(Date.now() - started < 5000);
  assert.equal(existsSync(gadgetDir()), false);
});

test('nbd-client dies while attached: onLost(ECONNREFUSED) once; detach still cleans up', async () => {
  const lost: MountError[] = [];
  const attachment = await backend.attach(
    { slot, socket: slot.unixSocket, writable: false, mediaType: 'USBStick' },
    (e) => lost.push(e),
  );
  const pid = Number(readFileSync(path.join(sys.root, 'block', 'nbd0', 'pid'), 'utf8'));
  process.kill(pid, 'SIGKILL');
  await waitFor('onLost', () => lost.length > 0, { intervalMs: 10 });
  sys.setSectors('nbd0', 0); // what the kernel does when the link goes
  await polls(2);
  assert.equal(lost.length, 1);
  assert.equal(lost[0]?.errno, 'ECONNREFUSED');
  await attachment.detach();
  assert.equal(existsSync(gadgetDir()), false);
});

test('attach refuses a missing device (ENODEV) and one already connected (EBUSY)', async () => {
  await assert.rejects(
    backend.attach(
      { slot: { ...slot, nbdDevice: 'nbd7' }, socket: slot.unixSocket, writable: false, mediaType: 'CD' },
      assert.fail,
    ),
    (err: MountError) => err.errno === 'ENODEV',
  );
  sys.setSectors('nbd0', 8);
  await assert.rejects(
    backend.attach({ slot, socket: slot.unixSocket, writable: false, mediaType: 'CD' }, assert.fail),
    (err: MountError) => err.errno === 'EBUSY',
  );
});

test('cleanupStale removes our stale gadget and disconnects our device, and nothing else', async () => {
  const left = await backend.attach(
    { slot, socket: slot.unixSocket, writable: false, mediaType: 'CD' },
    () => undefined,
  );
  foreignGadgetOn('dummy_udc.1');
  await backend.cleanupStale([slot, { ...slot, name: 'Slot_1', nbdDevice: 'nbd1' }]);
  assert.equal(existsSync(gadgetDir()), false);
  assert.equal(nbdSectors(), 0);
  assert.ok(existsSync(path.join(cfs.root, 'usb_gadget', 'kvm-hid')), 'not ours: left alone');
  await left.detach();
});

test('netlink flags: nbd-client exiting 0 after connecting is success, not a loss; detach disconnects', async () => {
  const netlink = makeBackend(['-n']);
  const lost: MountError[] = [];
  const attachment = await netlink.attach(
    { slot, socket: slot.unixSocket, writable: false, mediaType: 'USBStick' },
    (e) => lost.push(e),
  );
  await polls(3);
  assert.deepEqual(lost, []);
  assert.equal(nbdSectors(), 2048);
  await attachment.detach();
  assert.equal(nbdSectors(), 0);
  assert.equal(existsSync(gadgetDir()), false);
});

test("a device that allows shorter requests gets its longest; one whose queue can't be set still mounts", async () => {
  writeFileSync(path.join(sys.root, 'block', 'nbd0', 'queue', 'max_hw_sectors_kb'), '512\n');
  let attachment = await backend.attach(
    { slot, socket: slot.unixSocket, writable: false, mediaType: 'CD' },
    assert.fail,
  );
  assert.equal(queueAttr('max_sectors_kb'), '512\n');
  assert.equal(queueAttr('read_ahead_kb'), '4096\n');
  await attachment.detach();

  rmSync(path.join(sys.root, 'block', 'nbd0', 'queue'), { recursive: true });
  attachment = await backend.attach({ slot, socket: slot.unixSocket, writable: false, mediaType: 'CD' }, assert.fail);
  assert.equal(readFileSync(path.join(gadgetDir(), 'functions/mass_storage.usb0/lun.0/file'), 'utf8'), '/dev/nbd0\n');
  await attachment.detach();
  assert.equal(existsSync(gadgetDir()), false);
});
