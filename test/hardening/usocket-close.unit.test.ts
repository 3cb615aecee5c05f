// usocket, the unix socket dbus-next uses to pass fds, is patched (patches/usocket+1.1.0.patch).
// Its addon kept libuv's poll handle inside the object the GC frees: a GC between close() and the
// loop's close phase had libuv read freed memory, and `vmedia status` died of SIGABRT in about
// 1 run of 500 (a CI failure). A close while the connect was still in libuv's thread pool
// crashed every time. A close from the socket's own 'data' handler let the GC free the object
// while the addon's read loop still ran in it. A child process forces a GC right after each
// close: with the addon built from the unpatched source, it dies at the first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ROUNDS = 20;

const CHILD = `
const { USocket } = require('usocket');
const fs = require('fs');
const net = require('net');
const path = require('path');
const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'vmedia-usocket-'));
const address = path.join(dir, 'socket');
const openFds = () => fs.readdirSync('/proc/self/fd').length;
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function closeConnected() {
  return new Promise((resolve, reject) => {
    const socket = new USocket({ path: address });
    socket.on('error', reject);
    socket.on('connected', () => {
      socket.destroy();
      gc();
      resolve();
    });
  });
}

function closeConnecting() {
  const socket = new USocket({ path: address });
  socket.on('error', (err) => { throw err; });
  socket.destroy();
  gc();
}

/** Resolves true when the GC freed the socket's native object while its callback still ran. */
function closeFromItsDataHandler() {
  return new Promise((resolve, reject) => {
    const socket = new USocket({ path: address });
    socket.on('error', reject);
    socket.on('connected', () => {
      // made in a job before the handler's: a WeakRef holds its target until its own job ends
      const wrap = new WeakRef(socket._wrap);
      socket.on('data', () => {
        socket.destroy();
        gc();
        resolve(wrap.deref() === undefined);
      });
    });
  });
}

const server = net.createServer((c) => {
  c.on('error', () => {});
  c.write('x');
});
server.listen(address, async () => {
  const before = openFds();
  for (let i = 0; i < ${ROUNDS}; i++) await closeConnected();
  for (let i = 0; i < ${ROUNDS}; i++) {
    closeConnecting();
    await pause(2);
  }
  let freedInCallback = 0;
  for (let i = 0; i < ${ROUNDS}; i++) if (await closeFromItsDataHandler()) freedInCallback++;
  await pause(50);
  const fdsAfter = openFds();
  fs.rmSync(dir, { recursive: true });
  // at once: a descriptor left open would keep the server's end of its connection, and the child, alive
  const result = { fdsBefore: before, fdsAfter, freedInCallback };
  process.stdout.write(JSON.stringify(result), () => process.exit(0));
});
`;

test('usocket: a socket closed and collected at once (connected, connecting, or from its data handler) ends cleanly', () => {
  const child = spawnSync(process.execPath, ['--expose-gc', '-e', CHILD], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(
    child.signal,
    null,
    `the child died of ${child.signal}: usocket's addon is built without patches/usocket+1.1.0.patch ` +
      `(npm install runs scripts/postinstall.sh)\n${child.stderr}`,
  );
  assert.equal(child.status, 0, child.stderr);
  const result = JSON.parse(child.stdout) as { fdsBefore: number; fdsAfter: number; freedInCallback: number };
  assert.equal(result.freedInCallback, 0, "the GC freed sockets while the addon's read loop still ran in them");
  assert.equal(result.fdsAfter, result.fdsBefore, 'a connect that completed after its close left its descriptor open');
});
