// The daemon built in-process from its composition root (src/daemon/compose.ts) on a private
// bus: it publishes its slots, clears a Legacy slot socket a crashed run left, and never
// publishes the password of a `user:password@` image URL, not even before refusing it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Variant } from 'dbus-next';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.js';
import { startService, type RunningService } from '../../src/daemon/compose.js';
import { errnoNumber } from '../../src/errno.js';
import { IFACE, ROOT_PATH, slotPath } from '../../src/dbus/names.js';
import { BusClient } from './bus-client.js';
import { startTestBus, type TestBus } from '../helpers/private-bus.js';

const SECRET = 'pw-never-on-the-bus';
let dir: string;
let bus: TestBus;
let service: RunningService;
let client: BusClient;
let staleSocket: string;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vmedia-in-process-'));
  const runtimeDir = path.join(dir, 'run');
  mkdirSync(runtimeDir);
  staleSocket = path.join(runtimeDir, 'nbd2.sock');
  writeFileSync(staleSocket, ''); // what a killed daemon's read-ahead left
  const config = parseConfig(
    {
      HostBackend: 'export',
      RuntimeDir: runtimeDir,
      MountPoints: {
        Slot_0: { EndpointId: '/nbd/0', Mode: 0, NBDDevice: 'nbd0', UnixSocket: 'nbd0.sock', Timeout: 5 },
        Slot_2: { EndpointId: '', Mode: 1, NBDDevice: 'nbd2', UnixSocket: 'nbd2.sock', Timeout: 5 },
      },
    },
    dir,
    'in-process.json',
  );
  bus = await startTestBus();
  service = await startService(config, bus.address, pino({ level: 'silent' }));
  client = await BusClient.connect(bus.address);
});

after(async () => {
  client?.close();
  await service?.stop({ busLost: false });
  await bus?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the in-process daemon publishes its slots and cleared the stale Legacy socket', async () => {
  const [objects] = (await client.call(ROOT_PATH, IFACE.objectManager, 'GetManagedObjects')) as [
    Record<string, unknown>,
  ];
  assert.deepEqual(Object.keys(objects).sort(), [slotPath('Legacy', 'Slot_2'), slotPath('Proxy', 'Slot_0')]);
  assert.equal(existsSync(staleSocket), false);
});

test('a user:password@ URL: refused with EINVAL, and its password is in no PropertiesChanged', async () => {
  const legacy = slotPath('Legacy', 'Slot_2');
  const before = client.completions(legacy).length;
  const url = `https://media:${SECRET}@images.invalid/os.iso`;
  const [accepted] = await client.call(legacy, IFACE.legacy, 'Mount', 'sbv', [url, false, new Variant('i', -1)]);
  assert.equal(accepted, true);
  assert.equal(await client.completion(legacy, before + 1), errnoNumber('EINVAL'));
  const published = client.changes(legacy, 'ImageURL');
  assert.ok(published.includes('https://media@images.invalid/os.iso'), JSON.stringify(published));
  assert.ok(
    client.signals.every((s) => !JSON.stringify(s.body).includes(SECRET)),
    'the password reached a signal',
  );
});
