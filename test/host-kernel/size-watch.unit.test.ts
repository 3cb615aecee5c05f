// Following an NBD device's size: a uevent makes it look again at once; without one (missed
// event, no udev at all) the slow re-read still gets there; timeout and abort end the wait.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { pino } from 'pino';
import type { MountError } from '../../src/errno.js';
import { createNbdDevice, type NbdDevice } from '../../src/host/kernel/nbd-device.js';
import { createProcessRunner } from '../../src/process/runner.js';
import { waitForSize, watchSize } from '../../src/host/kernel/size-watch.js';
import type { BlockEventListener, UdevMonitor } from '../../src/host/kernel/udev-monitor.js';
import { createSysfsTree, type SysfsTree } from './sysfs-tree.js';
import { waitFor } from '../helpers/wait.js';

let sys: SysfsTree;
let device: NbdDevice;

/** Delivers events the test emits, like the udev monitor would. */
function eventSource(): UdevMonitor & { emit(device: string): void } {
  const listeners = new Set<BlockEventListener>();
  return {
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    async close() {
      listeners.clear();
    },
    emit(dev) {
      for (const l of listeners) l({ action: 'change', device: dev, properties: {} });
    },
  };
}

beforeEach(() => {
  sys = createSysfsTree(['nbd0', 'nbd1']);
  device = createNbdDevice({
    name: 'nbd0',
    sysRoot: sys.root,
    devRoot: '/dev',
    nbdClient: { path: 'nbd-client' },
    runner: createProcessRunner(pino({ level: 'silent' })),
  });
});
afterEach(() => sys.remove());

test('a uevent for the device makes the wait see the new size at once', async () => {
  const monitor = eventSource();
  const start = Date.now();
  const waiting = waitForSize({ device, monitor, pollMs: 60_000, timeoutMs: 5000, goal: 'connected' }, (b) => b > 0);
  setTimeout(() => {
    sys.setSectors('nbd0', 2048);
    monitor.emit('nbd1'); // another device: no effect
    monitor.emit('nbd0');
  }, 50);
  assert.equal(await waiting, 2048 * 512);
  assert.ok(Date.now() - start < 2000, 'did not wait for the slow poll');
});

test('no uevent at all: the periodic re-read finds the size', async () => {
  setTimeout(() => sys.setSectors('nbd0', 8), 100);
  assert.equal(
    await waitForSize({ device, monitor: undefined, pollMs: 50, timeoutMs: 5000, goal: 'connected' }, (b) => b > 0),
    4096,
  );
});

test('the size never comes: ETIMEDOUT naming the device and the goal', async () => {
  await assert.rejects(
    waitForSize({ device, monitor: undefined, pollMs: 20, timeoutMs: 150, goal: 'connected' }, (b) => b > 0),
    (err: MountError) => err.errno === 'ETIMEDOUT' && /nbd0 not connected/.test(err.message),
  );
});

test('abort ends the wait with the abort reason', async () => {
  const abort = new AbortController();
  const waiting = waitForSize(
    { device, monitor: undefined, pollMs: 20, timeoutMs: 5000, goal: 'connected', signal: abort.signal },
    () => false,
  );
  abort.abort(new Error('stop'));
  await assert.rejects(waiting, /stop/);
});

test('watchSize reports each read in order and stops when asked', async () => {
  const sizes: number[] = [];
  const stop = watchSize({
    device,
    monitor: undefined,
    pollMs: 20,
    onSize: (b) => sizes.push(b),
    onError: assert.fail,
  });
  // each step waits for the read it needs: on a loaded machine a 20 ms poll can come much later
  await waitFor('the first read', () => sizes.length > 0, { timeoutMs: 5000, intervalMs: 5 });
  sys.setSectors('nbd0', 1);
  await waitFor('a read of the new size', () => sizes.at(-1) === 512, { timeoutMs: 5000, intervalMs: 5 });
  stop();
  const count = sizes.length;
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(sizes.length, count, 'no reads after stop');
  assert.equal(sizes[0], 0);
  assert.equal(sizes.at(-1), 512);
});
