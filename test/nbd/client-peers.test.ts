// Our NBD client against nbdkit (memory and file plugins), re-serving a client with our server
// (clientBackend + listenNbd, read by nbdcopy), and both ends over WebSockets (`ws`).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import type { NbdError } from '../../src/nbd/backend.js';
import { clientBackend } from '../../src/nbd/client-backend.js';
import { NbdClient } from '../../src/nbd/client.js';
import { NbdServer } from '../../src/nbd/server.js';
import { webSocketStream } from '../../src/nbd/websocket-stream.js';
import { listenNbd } from '../../src/nbd-node/listen.js';
import { connectTcp, connectUnix } from '../../src/nbd-node/socket-stream.js';
import { hex, makeTempDir, memoryBackend, run, sha256File, startNbdkit, unixUri, writeRandomFile } from './helpers.js';

describe('our client with nbdkit', () => {
  const tmp = makeTempDir();
  after(() => tmp.remove());

  test('nbdkit memory: read, write, pipelined reads, flush, disconnect', async () => {
    const kit = await startNbdkit(tmp.dir, ['memory', 'size=8M']);
    try {
      const client = await NbdClient.connect(await connectUnix(kit.socket), { timeoutMs: 5000 });
      assert.equal(client.size, 8 * 1024 * 1024);
      assert.equal(client.readOnly, false);
      assert.equal(hex(await client.read(0, 16)), '00'.repeat(16));
      const data = randomBytes(1024 * 1024);
      await client.write(4096, data);
      await client.flush();
      const parts = await Promise.all(Array.from({ length: 32 }, (_, i) => client.read(4096 + i * 32768, 32768)));
      assert.equal(hex(Buffer.concat(parts)), hex(data));
      await assert.rejects(
        client.read(8 * 1024 * 1024 - 10, 20),
        (e: NbdError) => e.code === 'EINVAL' && /beyond the end/.test(e.message),
      );
      let closedWith: unknown = 'not closed';
      client.onClose((err) => {
        closedWith = err;
      });
      await client.disconnect();
      assert.equal(closedWith, undefined, 'a requested disconnect closes without error');
      await assert.rejects(client.read(0, 1), /closed/);
    } finally {
      await kit.stop();
    }
  });

  test('nbdkit file: reads match the file, writes land in it, read-only export refuses writes', async () => {
    const file = path.join(tmp.dir, 'file.raw');
    await writeRandomFile(file, 4 * 1024 * 1024);
    const original = readFileSync(file);
    const kit = await startNbdkit(tmp.dir, ['file', file]);
    try {
      const client = await NbdClient.connect(await connectUnix(kit.socket));
      assert.equal(hex(await client.read(12345, 100000)), hex(original.subarray(12345, 112345)));
      const patch = randomBytes(70000);
      await client.write(1000001, patch, { fua: true });
      await client.flush();
      await client.disconnect();
      assert.equal(hex(readFileSync(file).subarray(1000001, 1070001)), hex(patch));
    } finally {
      await kit.stop();
    }
    const roKit = await startNbdkit(tmp.dir, ['file', file], ['--readonly']);
    try {
      const client = await NbdClient.connect(await connectUnix(roKit.socket));
      assert.equal(client.readOnly, true);
      await assert.rejects(client.write(0, new Uint8Array(10)), (e: NbdError) => e.code === 'EPERM');
      await client.disconnect();
    } finally {
      await roKit.stop();
    }
  });

  test('old (non-fixed) newstyle server: the client uses NBD_OPT_EXPORT_NAME and skips the 124 zeroes', async () => {
    const kit = await startNbdkit(tmp.dir, ['memory', 'size=1M'], ['--mask-handshake=0']);
    try {
      const client = await NbdClient.connect(await connectUnix(kit.socket));
      assert.equal(client.size, 1024 * 1024);
      await client.write(0, new Uint8Array([1, 2, 3]));
      assert.equal(hex(await client.read(0, 4)), '01020300');
      await client.disconnect();
    } finally {
      await kit.stop();
    }
  });

  test('an unknown export name fails with a message naming it', async () => {
    const socket = path.join(tmp.dir, 'names.sock');
    const listener = await listenNbd(
      new NbdServer({ exports: new Map([['only', memoryBackend(new Uint8Array(4096))]]) }),
      { socket },
    );
    try {
      await assert.rejects(
        NbdClient.connect(await connectUnix(socket), { exportName: 'other' }),
        /refused export "other": NBD_REP_ERR_UNKNOWN \(no export named "other"\)/,
      );
      const client = await NbdClient.connect(await connectUnix(socket), { exportName: 'only' });
      assert.equal(client.size, 4096);
      await client.disconnect();
    } finally {
      await listener.close();
    }
  });

  test('clientBackend: our server re-serves nbdkit; nbdcopy reads it through both, sha256 matches', async () => {
    const file = path.join(tmp.dir, 'reexport.raw');
    await writeRandomFile(file, 32 * 1024 * 1024);
    const kit = await startNbdkit(tmp.dir, ['file', file], ['--readonly']);
    const upstream = await NbdClient.connect(await connectUnix(kit.socket));
    const socket = path.join(tmp.dir, 'reexport.sock');
    const listener = await listenNbd(new NbdServer({ exports: new Map([['', clientBackend(upstream)]]) }), { socket });
    try {
      const out = path.join(tmp.dir, 'reexport.copy');
      await run('nbdcopy', ['--connections=2', unixUri(socket), out]);
      assert.equal(await sha256File(out), await sha256File(file));
      const { stdout } = await run('nbdinfo', ['--json', unixUri(socket)]);
      assert.equal(JSON.parse(stdout).exports[0].is_read_only, true);
    } finally {
      await listener.close();
      await upstream.disconnect();
      await kit.stop();
    }
  });
});

describe('over TCP', () => {
  test('listenNbd on a TCP port, our client over connectTcp', async () => {
    const data = new Uint8Array(randomBytes(65536));
    const listener = await listenNbd(new NbdServer({ exports: new Map([['', memoryBackend(data)]]) }), { port: 0 });
    try {
      assert.ok(listener.port! > 0);
      const client = await NbdClient.connect(await connectTcp(listener.port!));
      assert.equal(hex(await client.read(1000, 3000)), hex(data.subarray(1000, 4000)));
      await client.disconnect();
      const { stdout } = await run('nbdinfo', ['--size', `nbd://127.0.0.1:${listener.port}`]);
      assert.equal(stdout.trim(), '65536');
    } finally {
      await listener.close();
    }
  });
});

describe('over WebSockets (ws)', () => {
  test('NbdServer behind a WebSocket, NbdClient in front of one: read, write, flush', async () => {
    const image = randomBytes(2 * 1024 * 1024);
    const backend = memoryBackend(image);
    const server = new NbdServer({ exports: new Map([['disk', backend]]) });
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    const served: Promise<void>[] = [];
    wss.on('connection', (ws) => served.push(server.serve(webSocketStream(ws))));
    await new Promise((r) => wss.once('listening', r));
    try {
      const { port } = wss.address() as AddressInfo;
      const client = await NbdClient.connect(webSocketStream(new WebSocket(`ws://127.0.0.1:${port}/`)), {
        exportName: 'disk',
        timeoutMs: 5000,
      });
      assert.equal(client.size, image.length);
      const reads = await Promise.all([client.read(0, 1 << 20), client.read(1 << 20, 1 << 20)]);
      assert.equal(hex(Buffer.concat(reads)), hex(image));
      await client.write(100, new Uint8Array([1, 2, 3]));
      await client.flush();
      assert.equal(backend.flushes, 1);
      assert.equal(hex(await client.read(99, 5)), hex(new Uint8Array([image[99]!, 1, 2, 3, image[103]!])));
      await client.disconnect();
      await Promise.all(served);
      assert.equal(server.counters.bytesWritten, 3);
    } finally {
      await new Promise((r) => wss.close(r));
    }
  });
});
