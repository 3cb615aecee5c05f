// The page's NBD server (what the worker runs) in Node, over a `ws` WebSocket and a relay to a
// unix socket, read and written by real NBD clients: nbdcopy, nbdinfo, nbdsh (libnbd).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, openAsBlob, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { WebSocket, WebSocketServer } from 'ws';
import { serveFile, type FileSession } from '../../src/browser/serve-file.js';
import { startRelay, type Relay } from './relay.js';

const run = promisify(execFile);
const SIZE = 24 * 1024 * 1024 + 1234; // not a multiple of the block size: the tail must work too
const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-serve-file-'));
const imagePath = path.join(dir, 'image.img');
const image = randomBytes(SIZE);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
// Debian's nbdsh needs Debian's python3 first on PATH (see the common rules)
const debianEnv = { ...process.env, PATH: `/usr/bin:${process.env.PATH}` };

before(() => writeFileSync(imagePath, image));
after(() => rmSync(dir, { recursive: true, force: true }));

async function startSession(name: string): Promise<{ relay: Relay; session: FileSession; uri: string }> {
  const relay = await startRelay(path.join(dir, `${name}.sock`));
  const ws = new WebSocket(relay.url, ['the-xsrf-token']);
  const session = serveFile(ws, { file: await openAsBlob(imagePath) });
  return { relay, session, uri: `nbd+unix:///?socket=${relay.socketPath}` };
}

async function nbdsh(uri: string, script: string): Promise<string> {
  const { stdout } = await run('nbdsh', ['-u', uri, '-c', script], { env: debianEnv });
  return stdout.trim();
}

test('nbdcopy reads the whole file through the WebSocket: same sha256, bytes counted', async () => {
  const { relay, session, uri } = await startSession('copy');
  try {
    const out = path.join(dir, 'copy.out');
    await run('nbdcopy', ['--connections=1', uri, out]);
    assert.equal(sha256(readFileSync(out)), sha256(image));
    assert.deepEqual(relay.protocols, ['the-xsrf-token'], 'the XSRF token goes as the subprotocol');
    assert.ok(session.counters.bytesRead >= SIZE, `served ${session.counters.bytesRead} bytes`);
    // nbdcopy's NBD_CMD_DISC ends the session from the BMC's side (the server or the relay closes first)
    const { code, opened, stopped } = await session.ended;
    assert.deepEqual({ code, opened, stopped }, { code: 1000, opened: true, stopped: false });
  } finally {
    await relay.close();
  }
});

test('read-only: the export says so and a write fails with EPERM', async () => {
  const { relay, uri } = await startSession('ro');
  try {
    const out = await nbdsh(
      uri,
      [
        'print(h.get_size(), h.is_read_only())',
        'try:\n  h.pwrite(b"x", 0)\nexcept nbd.Error as e:\n  print("write:", e.errno)',
      ].join('\n'),
    );
    assert.equal(out, `${SIZE} True\nwrite: EPERM`);
  } finally {
    await relay.close();
  }
});

test('a file that cannot be read: the BMC gets EIO and the session counts the failure', async () => {
  const relay = await startRelay(path.join(dir, 'unreadable.sock'));
  const blob = new Blob([image]);
  const unreadable = {
    size: blob.size,
    slice: (start: number, end: number) =>
      start >= 4 * 1024 * 1024
        ? {
            arrayBuffer: () =>
              Promise.reject(Object.assign(new Error('the file changed'), { name: 'NotReadableError' })),
          }
        : blob.slice(start, end),
  };
  const session = serveFile(new WebSocket(relay.url), { file: unreadable });
  try {
    const out = await nbdsh(
      `nbd+unix:///?socket=${relay.socketPath}`,
      [
        'print(len(h.pread(4096, 0)))',
        'try:\n  h.pread(4096, 5 * 1024 * 1024)\nexcept nbd.Error as e:\n  print("read:", e.errno)',
      ].join('\n'),
    );
    assert.equal(out, '4096\nread: EIO');
    assert.deepEqual({ ...session.fileErrors }, { count: 1, last: 'NotReadableError: the file changed' });
  } finally {
    await relay.close();
  }
});

test('stop() closes the WebSocket normally and says the user stopped it', async () => {
  const { relay, session } = await startSession('stop');
  try {
    await new Promise<void>((resolve) => setTimeout(resolve, 100)); // let it open
    session.stop();
    assert.deepEqual(
      { ...(await session.ended) },
      { code: 1000, reason: 'stopped by the user', opened: true, stopped: true },
    );
  } finally {
    await relay.close();
  }
});

test('a bridge that refuses: at the upgrade (never opened) and with a close reason', async () => {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    verifyClient: (_info, cb) => cb(false, 401, 'Unauthorized'),
  });
  await new Promise((resolve) => wss.once('listening', resolve));
  const port = (wss.address() as { port: number }).port;
  try {
    const refused = serveFile(new WebSocket(`ws://127.0.0.1:${port}/nbd/0`), {
      file: new Blob([image.subarray(0, 4096)]),
    });
    const end = await refused.ended;
    assert.equal(end.opened, false);
    assert.equal(end.stopped, false);
  } finally {
    await new Promise((resolve) => wss.close(resolve));
  }

  const busy = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  busy.on('connection', (ws) => ws.close(4409, 'Slot_0 is in use by another client'));
  await new Promise((resolve) => busy.once('listening', resolve));
  try {
    const url = `ws://127.0.0.1:${(busy.address() as { port: number }).port}/nbd/0`;
    const end = await serveFile(new WebSocket(url), { file: new Blob([image.subarray(0, 4096)]) }).ended;
    assert.deepEqual(
      { ...end },
      { code: 4409, reason: 'Slot_0 is in use by another client', opened: true, stopped: false },
    );
  } finally {
    await new Promise((resolve) => busy.close(resolve));
  }
});
