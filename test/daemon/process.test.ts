// The daemon and `vmedia start` as processes: bad config files refuse to start with the key
// path and reason, a second daemon cannot take the bus name nor a live daemon's runtime dir,
// `vmedia start` brings the service up on a private bus and SIGTERM leaves nothing behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startTestBus, type TestBus } from '../helpers/private-bus.js';
import { spawnDaemon, startDaemon } from '../helpers/daemon.js';
import { BUS_NAME } from '../../src/dbus/names.js';
import { LOCK_FILE } from '../../src/daemon/runtime-lock.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
let bus: TestBus;

before(async () => {
  bus = await startTestBus();
});
after(async () => {
  await bus?.stop();
});

const slot = { EndpointId: '/nbd/0', Mode: 0, NBDDevice: 'nbd0', UnixSocket: 'nbd0.sock' };

test('a bad config file: exit 2, every problem named with its key path and reason', async () => {
  const cases: [object, RegExp[]][] = [
    [
      { HostBackend: 'export', MountPoints: { Slot_0: { ...slot, Mode: 7, Sockets: 'x' } }, Inactivity: 1 },
      [
        /Inactivity: unknown key/,
        /MountPoints\.Slot_0\.Mode: must be one of 0, 1/,
        /MountPoints\.Slot_0\.Sockets: unknown key/,
      ],
    ],
    [
      { MountPoints: { Slot_0: { ...slot, NBDDevice: 'nbdX' } }, AllowPrivateSourceHosts: 'yes' },
      [/MountPoints\.Slot_0\.NBDDevice: must match pattern/, /AllowPrivateSourceHosts: must be boolean/],
    ],
  ];
  await Promise.all(
    cases.map(async ([config, expected]) => {
      const daemon = spawnDaemon({ config, busAddress: bus.address });
      assert.equal(await daemon.exited, 2, daemon.output());
      for (const re of expected) assert.match(daemon.output(), re);
      assert.match(daemon.output(), /invalid config .*virtual-media\.json/);
    }),
  );
});

test('a second daemon on the same bus refuses to start: the name is taken', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-rt-'));
  const otherDir = mkdtempSync(path.join(tmpdir(), 'vmedia-rt-'));
  const config = { HostBackend: 'export', RuntimeDir: dir, MountPoints: { Slot_0: slot } };
  const first = await startDaemon({ config, busAddress: bus.address });
  try {
    const second = spawnDaemon({ config: { ...config, RuntimeDir: otherDir }, busAddress: bus.address });
    assert.equal(await second.exited, 1, second.output());
    assert.match(
      second.output(),
      /cannot start: the bus name xyz\.openbmc_project\.VirtualMedia is owned by another process/,
    );
    assert.deepEqual(
      readdirSync(otherDir).filter((f) => f.includes(LOCK_FILE)),
      [],
      'the lock it took is given back',
    );
  } finally {
    await first.stop();
    for (const d of [dir, otherDir]) rmSync(d, { recursive: true, force: true });
  }
  assert.equal(await first.exited, 0);
});

test("a second daemon on the same runtime dir refuses before it clears anything of the first's; a killed daemon's lock is taken over", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-rt-'));
  const config = { HostBackend: 'export', RuntimeDir: dir, MountPoints: { Slot_0: slot } };
  const lockFile = path.join(dir, LOCK_FILE);
  const otherBus = await startTestBus();
  const first = await startDaemon({ config, busAddress: bus.address });
  let third: Awaited<ReturnType<typeof startDaemon>> | undefined;
  try {
    assert.equal(readFileSync(lockFile, 'utf8'), `${first.pid}\n`);
    // what a start-up clears as an earlier run's: here it is the live first daemon's
    const sourceState = path.join(dir, 'sources', 'Slot_0.pid');
    writeFileSync(sourceState, '');
    // on a bus of its own, where the name is free: only the runtime dir stops it
    const second = spawnDaemon({ config, busAddress: otherBus.address });
    assert.equal(await second.exited, 1, second.output());
    assert.match(
      second.output(),
      new RegExp(`cannot start: the runtime dir \\S+ is in use by another vmedia daemon \\(pid ${first.pid}, `),
    );
    assert.ok(existsSync(sourceState), "the first daemon's files are left alone");
    assert.equal(readFileSync(lockFile, 'utf8'), `${first.pid}\n`, "the lock stays the first's");

    process.kill(first.pid, 'SIGKILL');
    await first.exited;
    third = await startDaemon({ config, busAddress: otherBus.address });
    assert.equal(readFileSync(lockFile, 'utf8'), `${third.pid}\n`, "a dead daemon's lock is taken over");
    assert.ok(!existsSync(sourceState), 'and what it left is cleared');
    await third.stop();
    assert.equal(await third.exited, 0, third.output());
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes(LOCK_FILE)),
      [],
      'a clean stop removes the lock',
    );
  } finally {
    await first.stop();
    await third?.stop();
    await otherBus.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the bus going away stops the daemon (exit 1) instead of leaving it orphaned', async () => {
  const ownBus = await startTestBus();
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-rt-'));
  try {
    const daemon = await startDaemon({
      config: { HostBackend: 'export', RuntimeDir: dir, MountPoints: { Slot_0: slot } },
      busAddress: ownBus.address,
    });
    await ownBus.stop();
    assert.equal(await daemon.exited, 1, daemon.output());
    assert.match(daemon.output(), /lost the D-Bus connection/);
  } finally {
    await ownBus.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A TCP port nobody listens on right now. */
async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

function getServiceRoot(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // the frontend's certificate is the self-signed one `vmedia start` just generated
    https
      .get(url, { rejectUnauthorized: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => {
          body += d.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

test('vmedia start: private bus + daemon with dev.json + web, usage printed; SIGTERM leaves only the web credentials', async () => {
  const runtimeDir = mkdtempSync(path.join(tmpdir(), 'vmedia-start-'));
  const listen = `127.0.0.1:${await freePort()}`;
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'start'], {
    env: { ...process.env, VMEDIA_RUNTIME_DIR: runtimeDir, VMEDIA_LOG_FORMAT: 'json', VMEDIA_LISTEN: listen },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const up = () => out.includes('Ctrl-C stops everything');
    await waitFor(
      () => `vmedia start to come up:\n${out}`,
      () => up() || child.exitCode !== null,
      {
        timeoutMs: 30_000,
        intervalMs: 50,
      },
    );
    if (!up()) throw new Error(`vmedia start exited with ${child.exitCode} before coming up:\n${out}`);
    const address = `unix:path=${path.join(runtimeDir, 'bus.sock')}`;
    assert.match(out, new RegExp(`busctl --address=${address.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} tree`));
    // a second one on the same runtime dir stops before it touches the first's bus socket
    const second = await run(process.execPath, ['--import', 'tsx', MAIN, 'start'], {
      env: { ...process.env, VMEDIA_RUNTIME_DIR: runtimeDir, VMEDIA_LISTEN: `127.0.0.1:${await freePort()}` },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, /a D-Bus daemon already listens on \S+bus\.sock: is vmedia already running/);
    const tree = (await run('busctl', [`--address=${address}`, 'tree', '--list', BUS_NAME])).stdout;
    assert.match(tree, /\/Proxy\/Slot_0\n/);
    assert.match(tree, /\/Proxy\/Slot_1\n/);
    assert.match(tree, /\/Legacy\/Slot_2\n/);
    assert.match(tree, /\/Legacy\/Slot_3\n/);
    const socket = (
      await run('busctl', [
        `--address=${address}`,
        'get-property',
        BUS_NAME,
        '/xyz/openbmc_project/VirtualMedia/Proxy/Slot_0',
        'xyz.openbmc_project.VirtualMedia.MountPoint',
        'Socket',
      ])
    ).stdout;
    assert.equal(socket.trim(), `s "${path.join(runtimeDir, 'nbd0.sock')}"`);
    // the printed Legacy Mount line works as pasted (busctl 252 needs `--` before the -1)
    const mountLine = out.split('\n').find((l) => l.includes('Legacy Mount sbv'));
    assert.ok(mountLine, out);
    const pasted = await run('sh', [
      '-c',
      mountLine.trim().replace('https://HOST/IMAGE.iso', 'https://host.invalid/os.iso'),
    ]);
    assert.equal(pasted.stdout.trim(), 'b true');
    assert.match(out, new RegExp(`Web: +https://${listen}/`));
    assert.match(out, new RegExp(`user: root, password from ${path.join(runtimeDir, 'web-password')}`));
    const root = await getServiceRoot(`https://${listen}/redfish/v1`);
    assert.equal(root.status, 200);
    assert.equal(JSON.parse(root.body)['@odata.id'], '/redfish/v1');
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0, out);
  }
  const left = readdirSync(runtimeDir, { recursive: true, withFileTypes: true })
    .filter((e) => !e.isDirectory())
    .map((e) => e.name);
  // the web's certificate and generated password are kept on purpose: the same login works after a restart
  assert.deepEqual(
    left.sort(),
    ['web-cert.pem', 'web-key.pem', 'web-password'],
    'no sockets or other files are left in the runtime dir',
  );
  rmSync(runtimeDir, { recursive: true, force: true });
});
