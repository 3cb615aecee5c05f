// usocket, the unix socket dbus-next uses to pass fds, is patched (patches/usocket+1.1.0.patch).
// Its addon kept libuv's poll handle inside the object the GC frees: a GC between close() and the
// loop's close phase had libuv read freed memory, and `vmedia status` died of SIGABRT in about
// 1 run of 500 (a CI failure). A close while the connect was still in libuv's thread pool
// crashed every time. A child process forces a GC right after each close: with the addon built
// from the unpatched source, it dies at the first.
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

const server = net.createServer((c) => c.on('error', () => {}));
server.listen(address, async () => {
  const before = openFds();
  for (let i = 0; i < ${ROUNDS}; i++) await closeConnected();
  for (let i = 0; i < ${ROUNDS}; i++) {
    closeConnecting();
    await pause(2);
  }
  await pause(50);
  const fdsAfter = openFds();
  fs.rmSync(dir, { recursive: true });
  // at once: a descriptor left open would keep the server's end of its connection, and the child, alive
  process.stdout.write(JSON.stringify({ fdsBefore: before, fdsAfter }), () => process.exit(0));
});
`;

test('usocket: a socket closed and collected at once, connected or still connecting, ends cleanly', () => {
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
  const { fdsBefore, fdsAfter } = JSON.parse(child.stdout) as { fdsBefore: number; fdsAfter: number };
  assert.equal(fdsAfter, fdsBefore, 'a connect that completed after its close left its descriptor open');
});
