// The operator commands against a running daemon (private bus, export backend) and a real HTTPS
// image server: status (table and JSON), mount with and without image credentials, eject of
// Legacy and Proxy slots, and each exit code a script relies on: 1 for a refused or failed
// operation (with the D-Bus error name or errno), 2 for bad input, 3 for a daemon out of reach.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestBus, type TestBus } from '../helpers/private-bus.js';
import { exportBackendSlot, startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/wait.js';
import { startHttpsImages } from '../helpers/https-images.js';
import type { ImageServer } from '../sources/helpers/image-server.js';
import { copyExport, procFilesContaining, randomImage } from '../sources/helpers/provider.js';
import { DaemonClient } from '../../src/web/daemon/client.js';
import type { SlotStatus } from '../../src/cli/status.js';
import { expectExit } from './helpers/run-cli.js';

const IMAGE_MIB = 8;
const TOKEN = 'X-Amz-Signature=cli-test-token';

let dir: string;
let runtime: string;
let bus: TestBus;
let emptyBus: TestBus;
let daemon: RunningDaemon;
let server: ImageServer;
let imageSha: string;
/** The web's D-Bus client, for what the tests check or set up without the CLI. */
let client: DaemonClient;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vmedia-cli-'));
  runtime = path.join(dir, 'run');
  const image = path.join(dir, 'disk.img');
  imageSha = await randomImage(image, IMAGE_MIB);
  const https = await startHttpsImages(dir, { files: new Map([['/disk.img', image]]) });
  server = https.server;
  [bus, emptyBus] = await Promise.all([startTestBus(), startTestBus()]);
  daemon = await startDaemon({
    busAddress: bus.address,
    // generous: it takes seconds on a machine busy with other test files
    startTimeoutMs: 60_000,
    config: {
      HostBackend: 'export',
      AllowPrivateSourceHosts: true,
      InactivityTimeout: 0,
      TrustStore: https.trustStore,
      RuntimeDir: runtime,
      // Slot_3's Timeout bounds how long its mount from a silent server stays under way (below)
      MountPoints: {
        Slot_0: exportBackendSlot('Proxy', 0, { Timeout: 10 }),
        Slot_2: exportBackendSlot('Legacy', 2, { Timeout: 10 }),
        Slot_3: exportBackendSlot('Legacy', 3, { MediaType: 'CD', Timeout: 8 }),
      },
    },
  });
  client = await DaemonClient.connect(bus.address);
});

after(async () => {
  client?.disconnect();
  await daemon?.stop();
  await Promise.all([bus?.stop(), emptyBus?.stop(), server?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

const onBus = (...args: string[]) => [...args, '--bus', bus.address];

async function statusOf(slot: string): Promise<SlotStatus> {
  const r = await expectExit(0, onBus('status', slot, '--json'));
  const [row] = JSON.parse(r.stdout) as SlotStatus[];
  assert.ok(row);
  return row;
}

function secretFile(name: string, content: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, content, { mode: 0o600 });
  return file;
}

test('status on a fresh daemon: every slot Ready, as a table and as JSON', async () => {
  const [table, json] = await Promise.all([expectExit(0, onBus('status')), expectExit(0, onBus('status', '--json'))]);
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^SLOT\s+MODE\s+MEDIA\s+STATE\s+READ\s+WRITTEN\s+IMAGE$/);
  assert.match(lines[1]!, /^Slot_0\s+Proxy\s+USBStick\s+Ready\s+0 B\s+0 B\s+-$/);
  assert.match(lines[3]!, /^Slot_3\s+Legacy\s+CD\s+Ready/);
  const rows = JSON.parse(json.stdout) as SlotStatus[];
  assert.deepEqual(
    rows.map((r) => [r.slot, r.mode, r.mediaType, r.state, r.active, r.image, r.lastError]),
    [
      ['Slot_0', 'Proxy', 'USBStick', 'Ready', false, null, null],
      ['Slot_2', 'Legacy', 'USBStick', 'Ready', false, null, null],
      ['Slot_3', 'Legacy', 'CD', 'Ready', false, null, null],
    ],
  );
  assert.equal(rows[0]!.endpointId, '/nbd/0');
});

test('mount a presigned URL → 0; status: Active, the image without its token, the bytes the host read; mount again → 1 EPERM; eject → 0, twice', async () => {
  const url = `${server.origin}/disk.img?${TOKEN}`;
  const mounted = await expectExit(0, onBus('mount', 'Slot_2', url));
  assert.equal(mounted.stdout, `Slot_2: mounted ${server.origin}/disk.img (read-only)\n`);
  assert.equal(await copyExport(path.join(runtime, 'export/Slot_2.sock'), path.join(dir, 'copy.img')), imageSha);
  rmSync(path.join(dir, 'copy.img'));
  // ReadIO is published at most once a second
  await waitFor(
    'ReadIO to count the copy',
    async () => ((await client.slot('Slot_2'))?.readBytes ?? 0) >= IMAGE_MIB * 1024 * 1024,
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  const [row, table, again] = await Promise.all([
    statusOf('Slot_2'),
    expectExit(0, onBus('status')),
    expectExit(1, onBus('mount', 'Slot_2', url)),
  ]);
  assert.equal(row.state, 'Active');
  assert.equal(row.image, `${server.origin}/disk.img`);
  assert.equal(row.writeProtected, true);
  assert.ok(row.readBytes >= IMAGE_MIB * 1024 * 1024, `readBytes ${row.readBytes}`);
  assert.ok(!table.stdout.includes(TOKEN), 'the token is not shown');
  assert.match(table.stdout, /Slot_2\s+Legacy\s+USBStick\s+Active\s+8\.0 MiB/);
  assert.match(again.stderr, /^vmedia mount: System\.Error\.EPERM: /);

  const ejected = await expectExit(0, onBus('eject', 'Slot_2'));
  assert.equal(ejected.stdout, 'Slot_2: ejected\n');
  const emptied = await expectExit(0, onBus('eject', 'Slot_2'));
  assert.equal(emptied.stdout, 'Slot_2: empty already\n');
});

test('mount with --user: the password from a file or stdin reaches the server through the credentials pipe; a wrong one → 1 EACCES', async () => {
  const password = 'cli p@ss:word';
  server.switches.auth = { user: 'imageuser', password };
  try {
    const file = secretFile('image-pw', `${password}\n`);
    const wrong = secretFile('wrong-pw', 'not it');
    const url = `${server.origin}/disk.img`;
    const [fromFile, fromStdin] = await Promise.all([
      expectExit(0, onBus('mount', 'Slot_2', url, '--user', 'imageuser', '--password-file', file)),
      expectExit(0, onBus('mount', 'Slot_3', url, '--user', 'imageuser'), { stdin: password }),
    ]);
    assert.match(fromFile.stdout, /Slot_2: mounted/);
    assert.match(fromStdin.stdout, /Slot_3: mounted/);
    assert.deepEqual(procFilesContaining(password), [], 'the password is in no argv or environment');
    await Promise.all([expectExit(0, onBus('eject', 'Slot_2')), expectExit(0, onBus('eject', 'Slot_3'))]);
    const denied = await expectExit(1, onBus('mount', 'Slot_2', url, '--user', 'imageuser', '--password-file', wrong));
    assert.match(denied.stderr, /Slot_2: mounting .* failed: EACCES/);
    assert.ok(!daemon.output().includes(password), 'the password is not in the daemon log');
  } finally {
    delete server.switches.auth;
  }
});

test('a failed mount → 1 with the errno; the slot is Ready again and status names the last error', async () => {
  const r = await expectExit(1, onBus('mount', 'Slot_2', `${server.origin}/missing.img`));
  assert.match(r.stderr, /^vmedia mount: Slot_2: mounting https:\/\/.*\/missing\.img failed: ENOENT \(/);
  const [row, table] = await Promise.all([statusOf('Slot_2'), expectExit(0, onBus('status', 'Slot_2'))]);
  assert.equal(row.state, 'Ready');
  assert.deepEqual(row.lastError, { errno: 2, name: 'ENOENT' });
  assert.match(table.stdout, /Slot_2\s+Legacy\s+USBStick\s+Ready \(last: ENOENT\)/);
});

test('while a mount is under way: status shows Busy, eject and mount → 1 EBUSY', async () => {
  // accepts connections and never answers: the mount stays in Activating until the probe's
  // deadline (the slot's Timeout, 8 s)
  const held = new Set<Socket>();
  const silent = createServer((socket) => held.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const url = `https://127.0.0.1:${(silent.address() as { port: number }).port}/never.iso`;
  try {
    const slot = (await client.slot('Slot_3'))!;
    const mounting = client.operate(slot, 'Mount', { url, rw: false }, 60_000);
    await waitFor('Slot_3 activating', async () => (await client.slot('Slot_3'))?.exitCode === -1);
    const [row, eject, mount] = await Promise.all([
      statusOf('Slot_3'),
      expectExit(1, onBus('eject', 'Slot_3')),
      expectExit(1, onBus('mount', 'Slot_3', `${server.origin}/disk.img`)),
    ]);
    assert.equal(row.state, 'Busy');
    assert.equal(row.image, url);
    assert.match(eject.stderr, /^vmedia eject: System\.Error\.EBUSY: /);
    assert.match(mount.stderr, /^vmedia mount: System\.Error\.EBUSY: /);
    assert.notEqual(await mounting, 0, 'the silent server fails the mount');
  } finally {
    for (const socket of held) socket.destroy();
    silent.close();
  }
});

/** nbdkit serving 1 MiB of zeroes on a Proxy slot's socket, once it accepts connections. */
async function nbdServerOn(socket: string): Promise<ChildProcess> {
  rmSync(socket, { force: true });
  const proc = spawn('nbdkit', ['--foreground', '--unix', socket, 'memory', '1M'], { stdio: 'ignore' });
  await waitFor(
    `nbdkit accepting on ${socket}`,
    () => {
      return new Promise<boolean>((resolve) => {
        const c = connect(socket)
          .once('connect', () => resolve(true))
          .once('error', () => resolve(false));
        c.once('connect', () => c.destroy());
      });
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  return proc;
}

test('eject of a Proxy slot (mounted over D-Bus from an NBD server on its socket) uses Proxy Unmount', async () => {
  const nbdkit = await nbdServerOn(path.join(runtime, 'nbd0.sock'));
  try {
    const slot = (await client.slot('Slot_0'))!;
    assert.equal(await client.operate(slot, 'Mount', undefined, 30_000), 0);
    const row = await statusOf('Slot_0');
    assert.deepEqual([row.state, row.image], ['Active', null]);
    const r = await expectExit(0, onBus('eject', 'Slot_0'));
    assert.equal(r.stdout, 'Slot_0: ejected\n');
    assert.equal((await client.slot('Slot_0'))!.active, false);
  } finally {
    nbdkit.kill();
  }
});

test('bad input → 2 with the reason, before anything reaches the daemon', async () => {
  const empty = secretFile('empty-pw', '\n');
  const url = `${server.origin}/disk.img`;
  const cases: [string[], RegExp][] = [
    [onBus('mount', 'Slot_9', url), /no slot Slot_9; the slots are Slot_0, Slot_2, Slot_3/],
    [onBus('eject', 'Slot_9'), /no slot Slot_9/],
    [onBus('status', 'Slot_9'), /no slot Slot_9/],
    [onBus('mount', 'Slot_2', 'not a url'), /not a URL: not a url/],
    [onBus('mount', 'Slot_2', 'gopher://host/x.iso'), /Slot_2 cannot serve gopher:\/\/ now; it serves .*https/],
    [onBus('mount', 'Slot_0', url), /Slot_0 is a Proxy slot/],
    [
      onBus('mount', 'Slot_2', `http://127.0.0.1:1/x.iso`, '--user', 'u'),
      /credentials would travel unencrypted over http/,
    ],
    [onBus('mount', 'Slot_2', url, '--user', 'u', '--password-file', path.join(dir, 'none')), /password file: ENOENT/],
    [onBus('mount', 'Slot_2', url, '--user', 'u', '--password-file', empty), /empty password/],
    [onBus('mount', 'Slot_2', url, '--password-file', empty), /--password-file needs --user/],
    [onBus('mount', 'Slot_2'), /Not enough non-option arguments/],
    [onBus('status', '--colour'), /Unknown argument: colour/],
  ];
  await Promise.all(
    cases.map(async ([args, reason]) => assert.match((await expectExit(2, args)).stderr, reason, args.join(' '))),
  );
  assert.equal((await client.slot('Slot_2'))?.active, false, 'nothing was mounted');
});

test('daemon out of reach → 3: no bus, a bus without the daemon, a daemon that does not answer', async () => {
  const noBus = `unix:path=${path.join(dir, 'no-bus.sock')}`;
  const [absentBus, absentDaemon, absentForMount] = await Promise.all([
    expectExit(3, ['status', '--bus', noBus]),
    expectExit(3, ['status', '--bus', emptyBus.address]),
    expectExit(3, ['eject', 'Slot_2', '--bus', emptyBus.address]),
  ]);
  assert.match(absentBus.stderr, /^vmedia status: cannot connect to D-Bus at unix:path=/);
  assert.match(absentDaemon.stderr, /^vmedia status: the virtual media daemon is not on the bus/);
  assert.match(absentForMount.stderr, /^vmedia eject: the virtual media daemon is not on the bus/);

  process.kill(daemon.pid, 'SIGSTOP');
  try {
    const silent = await expectExit(3, onBus('status'), { env: { VMEDIA_DBUS_TIMEOUT_MS: '2000' } });
    assert.match(silent.stderr, /did not answer GetManagedObjects within 2000 ms/);
  } finally {
    process.kill(daemon.pid, 'SIGCONT');
  }
});
