// Inactivity through the real daemon and export backend: the counters of our NBD re-export
// drive RemainingInactivityTimeout, and a mount without IO is ejected with Completion(0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { startTestBus } from '../helpers/private-bus.js';
import { startDaemon } from '../helpers/daemon.js';
import { BUS_NAME, IFACE, slotPath } from '../../src/dbus/names.js';
import { BusClient, busctl } from './bus-client.js';
import { waitFor } from '../helpers/wait.js';

test('InactivityTimeout: no IO for 2 s → eject, Completion(0), Active false; RemainingInactivityTimeout counts down', async (t) => {
  const bus = await startTestBus();
  const cleanups: (() => unknown)[] = [() => bus.stop()];
  // in reverse order of start: the daemon leaves the bus before the bus stops
  t.after(async () => {
    for (const undo of cleanups.reverse()) await undo();
  });
  const runtimeDir = path.join(bus.dir, 'run');
  mkdirSync(runtimeDir);
  const socket = path.join(runtimeDir, 'nbd0.sock');
  const nbdkit = spawn('nbdkit', ['--foreground', '--unix', socket, 'memory', 'size=1M'], { stdio: 'inherit' });
  cleanups.push(() => nbdkit.kill());
  const daemon = await startDaemon({
    busAddress: bus.address,
    config: {
      InactivityTimeout: 2,
      HostBackend: 'export',
      RuntimeDir: runtimeDir,
      MountPoints: { Slot_0: { EndpointId: '/nbd/0', Mode: 0, NBDDevice: 'nbd0', UnixSocket: 'nbd0.sock' } },
    },
  });
  cleanups.push(() => daemon.stop());
  const client = await BusClient.connect(bus.address);
  cleanups.push(() => client.close());
  await waitFor(`nbdkit to create ${socket}`, () => existsSync(socket));

  const slot = slotPath('Proxy', 'Slot_0');
  const mounted = Date.now();
  await busctl(bus.address, 'call', BUS_NAME, slot, IFACE.proxy, 'Mount');
  assert.equal(await client.completion(slot, 1), 0);
  assert.equal(await client.completion(slot, 2, 8000), 0, 'the inactivity eject completes with 0');
  const elapsed = Date.now() - mounted;
  assert.ok(elapsed >= 2000 && elapsed < 6000, `ejected after ${elapsed} ms`);
  assert.equal((await busctl(bus.address, 'get-property', BUS_NAME, slot, IFACE.process, 'Active')).trim(), 'b false');
  const remaining = client.changes(slot, 'RemainingInactivityTimeout') as number[];
  // one value per stats poll (1 s): 2, 1, 0 — a poll delayed by a busy machine may skip one
  assert.equal(remaining[0], 2, `countdown seen: ${JSON.stringify(remaining)}`);
  assert.ok(
    remaining.every((v, i) => i === 0 || v < remaining[i - 1]!),
    `counts down: ${JSON.stringify(remaining)}`,
  );
  assert.equal(remaining.at(-1), 0);
  assert.equal(existsSync(path.join(runtimeDir, 'export', 'Slot_0.sock')), false);
});
