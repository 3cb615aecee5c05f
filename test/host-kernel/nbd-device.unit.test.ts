// The NBD device against a temporary sysfs tree: size and IO counters in bytes, the owner pid,
// the nbd-client command line (device after `-u SOCK`), and the device name check.
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { pino } from 'pino';
import type { MountError } from '../../src/errno.js';
import { createNbdDevice, parseBlockStat, type NbdDevice } from '../../src/host/kernel/nbd-device.js';
import { createProcessRunner } from '../../src/process/runner.js';
import { createSysfsTree, type SysfsTree } from './sysfs-tree.js';

let sys: SysfsTree;
let argsFile: string;
let device: NbdDevice;
const log = pino({ level: 'silent' });

/** A stand-in nbd-client that records its argv and exits with `code`. */
function recordingClient(code: number): string {
  const script = path.join(sys.root, 'nbd-client');
  writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' "$@" > ${argsFile}\nexit ${code}\n`);
  chmodSync(script, 0o755);
  return script;
}

beforeEach(() => {
  sys = createSysfsTree(['nbd3']);
  argsFile = path.join(sys.root, 'args');
  device = createNbdDevice({
    name: 'nbd3',
    sysRoot: sys.root,
    devRoot: '/devroot',
    nbdClient: { path: recordingClient(0) },
    runner: createProcessRunner(log),
  });
});
afterEach(() => sys.remove());

test('parseBlockStat: sectors read (field 3) and written (field 7) in bytes, I/Os in flight (field 9)', () => {
  // /sys/block/nbd0/stat in the VM after `dd bs=1M count=2` (4576 sectors read)
  assert.deepEqual(
    parseBlockStat(
      '      76        0     4576      375       12        0       64        9        0      140      375        0        0        0        0        0        0',
    ),
    { readBytes: 4576 * 512, writeBytes: 64 * 512, inFlight: 0 },
  );
  assert.equal(parseBlockStat('76 0 4576 375 12 0 64 9 2 140 375').inFlight, 2);
  assert.throws(() => parseBlockStat('1 2 x'), /block stat/);
});

test('size and stats come from sysfs, in bytes', async () => {
  assert.equal(device.exists(), true);
  assert.equal(await device.size(), 0);
  sys.setSectors('nbd3', 131072);
  assert.equal(await device.size(), 64 << 20);
  sys.setStat('nbd3', '1 0 2048 0 1 0 8 0 0 0 0 0 0 0 0 0 0');
  assert.deepEqual(device.stats(), { readBytes: 2048 * 512, writeBytes: 8 * 512, inFlight: 0 });
  assert.equal(device.path, '/devroot/nbd3');
});

test('owner is the pid in sysfs while configured, undefined without the file', async () => {
  assert.equal(await device.owner(), undefined);
  sys.setPid('nbd3', 4242);
  assert.equal(await device.owner(), 4242);
});

test('a device the kernel does not have: exists() is false', () => {
  const other = createNbdDevice({
    name: 'nbd9',
    sysRoot: sys.root,
    devRoot: '/dev',
    nbdClient: { path: 'nbd-client' },
    runner: createProcessRunner(log),
  });
  assert.equal(other.exists(), false);
});

test('a name that is not nbdN: EINVAL', () => {
  assert.throws(
    () =>
      createNbdDevice({
        name: '../sda',
        sysRoot: sys.root,
        devRoot: '/dev',
        nbdClient: { path: 'x' },
        runner: createProcessRunner(log),
      }),
    (err: MountError) => err.errno === 'EINVAL',
  );
});

test('connect runs nbd-client -t T -u SOCK DEV -n -L (device after the socket, as 3.24 needs)', async () => {
  const proc = await device.connect('/run/vm/nbd3.sock', 45);
  assert.deepEqual(await proc.exited, { code: 0, signal: null });
  assert.deepEqual(readFileSync(argsFile, 'utf8').trim().split('\n'), [
    '-t',
    '45',
    '-u',
    '/run/vm/nbd3.sock',
    '/devroot/nbd3',
    '-n',
    '-L',
  ]);
  assert.equal(device.linkOutlivesClient, false, 'ioctl mode: the process carries the link');
});

test("the slot's BlockSize goes to nbd-client as -b, before the socket", async () => {
  await (
    await device.connect('/run/vm/nbd3.sock', 30, 2048)
  ).exited;
  assert.deepEqual(readFileSync(argsFile, 'utf8').trim().split('\n').slice(0, 6), [
    '-t',
    '30',
    '-b',
    '2048',
    '-u',
    '/run/vm/nbd3.sock',
  ]);
});

test('configured flags replace -n -L; disconnect runs -d DEV and reports failure', async () => {
  const custom = createNbdDevice({
    name: 'nbd3',
    sysRoot: sys.root,
    devRoot: '/devroot',
    nbdClient: { path: recordingClient(1), args: ['-nonetlink', '-b', '4096'] },
    runner: createProcessRunner(log),
  });
  await (
    await custom.connect('/s.sock', 30)
  ).exited;
  assert.deepEqual(readFileSync(argsFile, 'utf8').trim().split('\n').slice(5), ['-nonetlink', '-b', '4096']);
  assert.equal(custom.linkOutlivesClient, false);
  assert.equal(
    createNbdDevice({
      name: 'nbd3',
      sysRoot: sys.root,
      devRoot: '/dev',
      nbdClient: { path: 'x', args: ['-n'] },
      runner: createProcessRunner(log),
    }).linkOutlivesClient,
    true,
    'netlink: the kernel keeps the link after nbd-client exits',
  );
  assert.equal(await custom.disconnect(), false);
  assert.deepEqual(readFileSync(argsFile, 'utf8').trim().split('\n'), ['-d', '/devroot/nbd3']);
});
