// The daemon on a private bus, driven with busctl, python3-dbus and nbdkit/nbdcopy:
// the exact D-Bus API (§3), a Proxy mount end to end through the export backend (§6),
// the credentials pipe of Legacy Mount, wrong requests and a vanishing NBD server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestBus } from '../helpers/private-bus.js';
import type { RunningDaemon } from '../helpers/daemon.js';
import { BUS_NAME, IFACE, ROOT_PATH, slotPath } from '../../src/dbus/names.js';
import { busctl, type BusClient } from './bus-client.js';
import { startExportDaemon, type ExportDaemon } from './export-daemon.js';
import { waitFor } from '../helpers/wait.js';
import { startImageServer } from '../sources/helpers/image-server.js';

const run = promisify(execFile);
const SEND_CREDENTIALS = fileURLToPath(new URL('./send-credentials.py', import.meta.url));
const PROXY0 = slotPath('Proxy', 'Slot_0');
const PROXY1 = slotPath('Proxy', 'Slot_1');
const LEGACY2 = slotPath('Legacy', 'Slot_2');
const ECONNREFUSED = 111;
const EINVAL = 22;

let started: ExportDaemon | undefined;
let bus: TestBus;
let daemon: RunningDaemon;
let client: BusClient;
let runtimeDir: string;
let image: string;
let imageSha: string;

before(async () => {
  started = await startExportDaemon({
    AllowPrivateSourceHosts: true,
    MountPoints: {
      Slot_0: { EndpointId: '/nbd/0', Mode: 0, NBDDevice: 'nbd0', UnixSocket: 'nbd0.sock', Timeout: 5 },
      Slot_1: { EndpointId: '/nbd/1', Mode: 0, NBDDevice: '/dev/nbd1', UnixSocket: 'nbd1.sock', Timeout: 5 },
      Slot_2: { EndpointId: '', Mode: 1, NBDDevice: 'nbd2', UnixSocket: 'nbd2.sock', Timeout: 5 },
      Slot_3: { EndpointId: '', Mode: 1, NBDDevice: 'nbd3', UnixSocket: 'nbd3.sock', Timeout: 5 },
    },
  });
  ({ bus, daemon, client, runtimeDir } = started);
  image = path.join(bus.dir, 'image.img');
  const bytes = randomBytes(4 * 1024 * 1024 + 512);
  writeFileSync(image, bytes);
  imageSha = createHash('sha256').update(bytes).digest('hex');
});

after(async () => {
  await started?.stop();
});

/** nbdkit serving the test image on a slot socket, logging connections. */
async function startNbdkit(
  socket: string,
): Promise<{ proc: ChildProcess; log: string; stop(signal?: NodeJS.Signals): Promise<void> }> {
  rmSync(socket, { force: true }); // left behind by a SIGKILLed nbdkit
  const log = path.join(bus.dir, `nbdkit-${path.basename(socket)}-${Date.now()}.log`);
  const proc = spawn('nbdkit', ['--foreground', '--unix', socket, '--filter=log', 'file', image, `logfile=${log}`], {
    stdio: 'inherit',
  });
  await waitFor(`nbdkit to create ${socket}`, () => existsSync(socket));
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  return {
    proc,
    log,
    async stop(signal = 'SIGTERM') {
      proc.kill(signal);
      await exited;
    },
  };
}

async function prop(objPath: string, iface: string, name: string): Promise<string> {
  return (await busctl(bus.address, 'get-property', BUS_NAME, objPath, iface, name)).trim();
}

/** `busctl introspect` rows of our interfaces: "iface.member type signature". */
async function members(objPath: string): Promise<string[]> {
  const out = await busctl(bus.address, 'introspect', '--list', BUS_NAME, objPath);
  let iface = '';
  const rows: string[] = [];
  for (const line of out.split('\n').slice(1)) {
    const [name, type, signature] = line.split(/\s+/);
    if (!name) continue;
    if (type === 'interface') iface = name;
    else if (iface.startsWith('xyz.') || iface === IFACE.objectManager)
      rows.push(`${iface}${name} ${type} ${signature}`);
  }
  return rows.sort();
}

const common = [
  `${IFACE.mountPoint}.Device property s`,
  `${IFACE.mountPoint}.EndpointId property s`,
  `${IFACE.mountPoint}.ImageURL property s`,
  `${IFACE.mountPoint}.RemainingInactivityTimeout property i`,
  `${IFACE.mountPoint}.Socket property s`,
  `${IFACE.mountPoint}.Timeout property i`,
  `${IFACE.mountPoint}.WriteProtected property b`,
  `${IFACE.process}.Active property b`,
  `${IFACE.process}.ExitCode property i`,
  `${IFACE.stats}.ReadIO property t`,
  `${IFACE.stats}.WriteIO property t`,
  `${IFACE.device}.MediaType property s`,
];

test('busctl tree and introspect show exactly the objects, interfaces and signatures of the contract', async () => {
  const tree = await busctl(bus.address, 'tree', '--list', BUS_NAME);
  assert.deepEqual(tree.trim().split('\n'), [
    '/',
    '/xyz',
    '/xyz/openbmc_project',
    ROOT_PATH,
    `${ROOT_PATH}/Legacy`,
    LEGACY2,
    slotPath('Legacy', 'Slot_3'),
    `${ROOT_PATH}/Proxy`,
    PROXY0,
    PROXY1,
  ]);
  assert.deepEqual(
    await members(PROXY0),
    [
      ...common,
      `${IFACE.proxy}.Completion signal i`,
      `${IFACE.proxy}.Mount method -`,
      `${IFACE.proxy}.Unmount method -`,
    ].sort(),
  );
  assert.deepEqual(
    await members(LEGACY2),
    [
      ...common,
      `${IFACE.legacy}.Completion signal i`,
      `${IFACE.legacy}.Mount method sbv`,
      `${IFACE.legacy}.Unmount method -`,
      `${IFACE.sources}.Schemes property as`,
      `${IFACE.generatedMedia}.Format property s`,
      `${IFACE.generatedMedia}.Label property s`,
      `${IFACE.generatedMedia}.Mount method hb`,
      `${IFACE.generatedMedia}.Nonce property s`,
    ].sort(),
  );
  assert.deepEqual(await members(ROOT_PATH), [
    `${IFACE.objectManager}.GetManagedObjects method -`,
    `${IFACE.objectManager}.InterfacesAdded signal oa{sa{sv}}`,
    `${IFACE.objectManager}.InterfacesRemoved signal oas`,
  ]);
  const introspect = await busctl(bus.address, 'introspect', BUS_NAME, PROXY0, IFACE.proxy);
  assert.match(introspect, /\.Mount\s+method\s+-\s+b\s/);
  assert.match(
    await busctl(bus.address, 'introspect', BUS_NAME, LEGACY2, IFACE.legacy),
    /\.Mount\s+method\s+sbv\s+b\s/,
  );

  const managed = JSON.parse(
    await busctl(bus.address, '--json=short', 'call', BUS_NAME, ROOT_PATH, IFACE.objectManager, 'GetManagedObjects'),
  );
  const objects = managed.data[0];
  assert.deepEqual(Object.keys(objects).sort(), [LEGACY2, slotPath('Legacy', 'Slot_3'), PROXY0, PROXY1]);
  const mp1 = objects[PROXY1][IFACE.mountPoint];
  assert.deepEqual(
    {
      device: mp1.Device.data,
      endpoint: mp1.EndpointId.data,
      socket: mp1.Socket.data,
      timeout: mp1.Timeout.data,
      wp: mp1.WriteProtected.data,
    },
    { device: 'nbd1', endpoint: '/nbd/1', socket: path.join(runtimeDir, 'nbd1.sock'), timeout: 5, wp: true },
  );
  assert.deepEqual(objects[LEGACY2][IFACE.process], {
    Active: { type: 'b', data: false },
    ExitCode: { type: 'i', data: 0 },
  });
  assert.ok(objects[LEGACY2][IFACE.sources].Schemes.data.includes('https'));
  assert.deepEqual(objects[PROXY1][IFACE.device], { MediaType: { type: 's', data: 'USBStick' } });
});

test('Proxy Mount end to end: Completion(0), Active, nbdcopy sha256 through the ExportSocket, Stats, Unmount leaves nothing', async () => {
  const socket = path.join(runtimeDir, 'nbd0.sock');
  const exportSocket = path.join(runtimeDir, 'export', 'Slot_0.sock');
  const nbdkit = await startNbdkit(socket);
  try {
    assert.equal((await busctl(bus.address, 'call', BUS_NAME, PROXY0, IFACE.proxy, 'Mount')).trim(), 'b true');
    assert.equal(await client.completion(PROXY0, 1), 0);
    assert.equal(await prop(PROXY0, IFACE.process, 'Active'), 'b true');
    assert.equal(await prop(PROXY0, IFACE.process, 'ExitCode'), 'i -1');
    assert.equal(await prop(PROXY0, IFACE.mountPoint, 'WriteProtected'), 'b true');

    const copy = await run('sh', ['-c', `nbdcopy 'nbd+unix:///?socket=${exportSocket}' - | sha256sum`]);
    assert.equal(copy.stdout.split(' ')[0], imageSha);
    let lastReadIo = '';
    const readIo = await waitFor(
      () => `ReadIO to count the copy (last ${lastReadIo})`,
      async () => {
        lastReadIo = await prop(PROXY0, IFACE.stats, 'ReadIO');
        return Number(lastReadIo.split(' ')[1]) >= 4 * 1024 * 1024 + 512 && lastReadIo;
      },
      { intervalMs: 50 },
    );
    assert.equal(readIo, `t ${4 * 1024 * 1024 + 512}`);
    assert.equal(await prop(PROXY0, IFACE.stats, 'WriteIO'), 't 0');
    assert.ok(client.changes(PROXY0, 'ReadIO').length > 0, 'ReadIO emits PropertiesChanged');
    assert.deepEqual(client.changes(PROXY0, 'Active'), [true]);

    const again = await client.callError(PROXY0, IFACE.proxy, 'Mount');
    assert.equal(again.name, 'System.Error.EPERM');
    assert.match(again.text, /already has media/);

    assert.equal((await busctl(bus.address, 'call', BUS_NAME, PROXY0, IFACE.proxy, 'Unmount')).trim(), 'b true');
    assert.equal(await client.completion(PROXY0, 2), 0);
    assert.equal(await prop(PROXY0, IFACE.process, 'Active'), 'b false');
    assert.equal(await prop(PROXY0, IFACE.process, 'ExitCode'), 'i 0');
    assert.deepEqual(client.changes(PROXY0, 'Active'), [true, false]);
    assert.equal(existsSync(exportSocket), false, 'the export socket is removed');
    const log = readFileSync(nbdkit.log, 'utf8');
    assert.equal(
      (log.match(/ Connect /g) ?? []).length,
      (log.match(/ Disconnect /g) ?? []).length,
      `every NBD connection to the slot socket is closed:\n${log}`,
    );
  } finally {
    await nbdkit.stop();
  }
});

test('Unmount when Ready → EPERM; Mount with no NBD server → Completion(ECONNREFUSED); ImageURL and read-only properties are not writable', async () => {
  const unmount = await client.callError(PROXY1, IFACE.proxy, 'Unmount');
  assert.equal(unmount.name, 'System.Error.EPERM');
  assert.match(unmount.text, /no media to eject/);

  assert.equal((await busctl(bus.address, 'call', BUS_NAME, PROXY1, IFACE.proxy, 'Mount')).trim(), 'b true');
  assert.equal(await client.completion(PROXY1, 1), ECONNREFUSED);
  assert.equal(await prop(PROXY1, IFACE.process, 'Active'), 'b false');
  assert.equal(await prop(PROXY1, IFACE.process, 'ExitCode'), `i ${ECONNREFUSED}`);

  const { Variant } = (await import('dbus-next')).default;
  for (const [name, value] of [
    ['ImageURL', new Variant('s', 'https://x/y.iso')],
    ['RemainingInactivityTimeout', new Variant('i', 5)],
  ] as const) {
    const write = await client.callError(PROXY1, IFACE.properties, 'Set', 'ssv', [IFACE.mountPoint, name, value]);
    assert.equal(write.name, 'System.Error.EPERM', name);
  }
  const readOnly = await client.callError(PROXY1, IFACE.properties, 'Set', 'ssv', [
    IFACE.process,
    'Active',
    new Variant('b', true),
  ]);
  assert.equal(readOnly.name, 'org.freedesktop.DBus.Error.PropertyReadOnly');
  assert.equal(await prop(PROXY1, IFACE.process, 'Active'), 'b false');
});

test('the NBD server vanishing while Active → Completion(ECONNREFUSED), Ready, and the daemon mounts again', async () => {
  const socket = path.join(runtimeDir, 'nbd0.sock');
  const before = client.completions(PROXY0).length;
  const first = await startNbdkit(socket);
  await busctl(bus.address, 'call', BUS_NAME, PROXY0, IFACE.proxy, 'Mount');
  assert.equal(await client.completion(PROXY0, before + 1), 0);
  await first.stop('SIGKILL');
  assert.equal(await client.completion(PROXY0, before + 2), ECONNREFUSED);
  assert.equal(await prop(PROXY0, IFACE.process, 'Active'), 'b false');
  assert.equal(existsSync(path.join(runtimeDir, 'export', 'Slot_0.sock')), false);

  const second = await startNbdkit(socket);
  try {
    await busctl(bus.address, 'call', BUS_NAME, PROXY0, IFACE.proxy, 'Mount');
    assert.equal(await client.completion(PROXY0, before + 3), 0);
    await busctl(bus.address, 'call', BUS_NAME, PROXY0, IFACE.proxy, 'Unmount');
    assert.equal(await client.completion(PROXY0, before + 4), 0);
  } finally {
    await second.stop();
  }
});

async function legacyMount(
  signature: 'sbh' | 'sbv',
  mode: 'pipe' | 'fifo' | 'int',
  credentials: Uint8Array | string,
  url = 'gopher://127.0.0.1/a.iso',
) {
  const child = execFile('/usr/bin/python3', [SEND_CREDENTIALS, bus.address, LEGACY2, signature, url, mode]);
  child.stdin!.end(credentials);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await new Promise((resolve) => child.once('close', resolve));
  return JSON.parse(out) as { reply?: boolean; error?: string; message?: string; seconds: number };
}

test('Legacy Mount reads the credentials pipe in both call forms without waiting for EOF', async () => {
  const creds = new TextEncoder().encode('admin\0s3cret\0');
  let n = client.completions(LEGACY2).length;
  for (const [signature, mode] of [
    ['sbh', 'pipe'],
    ['sbv', 'pipe'],
    ['sbh', 'fifo'],
    ['sbv', 'fifo'],
  ] as const) {
    // the scheme cannot be served: accepted, then Completion(EINVAL) naming the scheme
    const { reply, seconds } = await legacyMount(signature, mode, creds);
    assert.equal(reply, true, `${signature} ${mode}`);
    // waiting for EOF would have taken the reader's whole 2 s wait
    assert.ok(seconds < 1.5, `${signature} ${mode}: the reply took ${seconds} s`);
    assert.equal(await client.completion(LEGACY2, ++n), EINVAL);
  }
  assert.equal((await legacyMount('sbv', 'int', '-1')).reply, true);
  assert.equal(await client.completion(LEGACY2, ++n), EINVAL);
  assert.doesNotMatch(daemon.output(), /s3cret/, 'the password never reaches the log');
});

test('a bad credentials pipe → System.Error.EINVAL with a reason', async () => {
  const bad: [string, Uint8Array | string, 'pipe' | 'int'][] = [
    ['one NUL', 'admin\0secret', 'pipe'],
    ['three NULs', 'admin\0sec\0ret\0', 'pipe'],
    ['user over 512 bytes', `${'u'.repeat(513)}\0p\0`, 'pipe'],
    ['over 1024 bytes', `${'u'.repeat(500)}\0${'p'.repeat(600)}\0`, 'pipe'],
    ['empty pipe', '', 'pipe'],
    ['an int other than -1', '3', 'int'],
  ];
  for (const [what, payload, mode] of bad) {
    const reply = await legacyMount(mode === 'int' ? 'sbv' : 'sbh', mode, payload);
    assert.equal(reply.error, 'System.Error.EINVAL', what);
    assert.ok((reply.message ?? '').length > 20, `${what}: ${reply.message}`);
  }
  assert.equal(await prop(LEGACY2, IFACE.process, 'Active'), 'b false');
});

test('SIGTERM ejects mounted media, releases the bus name and exits 0', async () => {
  const socket = path.join(runtimeDir, 'nbd0.sock');
  const nbdkit = await startNbdkit(socket);
  // a Legacy mount too: its nbdkit is a child started after the daemon set up its signal
  // handling (the runner's signal-exit once re-raised the SIGTERM then, and the daemon died of it)
  const images = await startImageServer({ files: new Map([['/image.img', image]]) });
  try {
    const n = client.completions(PROXY0).length;
    await busctl(bus.address, 'call', BUS_NAME, PROXY0, IFACE.proxy, 'Mount');
    assert.equal(await client.completion(PROXY0, n + 1), 0);
    const m = client.completions(LEGACY2).length;
    const url = `${images.origin}/image.img`;
    assert.equal((await legacyMount('sbv', 'int', '-1', url)).reply, true);
    assert.equal(await client.completion(LEGACY2, m + 1), 0);
    await daemon.stop();
    assert.equal(await daemon.exited, 0, 'exited by itself, not killed by the signal');
    assert.equal(client.completions(PROXY0).at(-1), 0, 'the eject completed before the exit');
    assert.equal(client.completions(LEGACY2).at(-1), 0, 'the Legacy eject completed before the exit');
    assert.equal(existsSync(path.join(runtimeDir, 'export', 'Slot_0.sock')), false);
    assert.equal(existsSync(path.join(runtimeDir, 'nbd2.sock')), false, "the Legacy slot's nbdkit stopped");
    const names = await busctl(bus.address, 'list', '--acquired');
    assert.doesNotMatch(names, /xyz\.openbmc_project\.VirtualMedia/);
    const log = readFileSync(nbdkit.log, 'utf8');
    assert.equal((log.match(/ Connect /g) ?? []).length, (log.match(/ Disconnect /g) ?? []).length);
  } finally {
    await nbdkit.stop();
    await images.close();
  }
});
