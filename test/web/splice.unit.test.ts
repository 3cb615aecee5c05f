// The bridge's copy loop with real sockets: bytes arrive intact both ways, and when one side
// stops reading, the other is paused (its data waits at the sender), so what the bridge holds
// stays under the high-water mark plus one frame.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { checkHandshake, switchProtocols } from '../../src/web/bridge/handshake.js';
import { splice } from '../../src/web/bridge/splice.js';

const MiB = 1024 * 1024;
const HIGH = 1 * MiB;
const FRAME = 256 * 1024;

describe('bridge splice', { timeout: 60_000 }, () => {
  let dir: string;
  let client: WebSocket;
  /** The Unix side as the NBD client sees it. */
  let host: Socket;
  /** The bridge's own Unix socket (spliced). */
  let bridged: Socket;
  let http: HttpServer;
  let unix: ReturnType<typeof createServer>;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vmedia-splice-'));
    const sockPath = path.join(dir, 's.sock');
    http = createHttpServer();
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    unix = createServer();
    await new Promise<void>((r) => unix.listen(sockPath, () => r()));
    const spliced = new Promise<void>((resolve) =>
      http.once('upgrade', (req, socket: Socket, head: Buffer) => {
        const ws = switchProtocols(socket, head, checkHandshake(req), 33 * MiB)!;
        unix.once('connection', (c) => {
          bridged = c;
          splice(ws, c, { highWaterBytes: HIGH });
          resolve();
        });
      }),
    );
    client = new WebSocket(`ws://127.0.0.1:${(http.address() as { port: number }).port}`);
    await new Promise((r) => client.once('open', r));
    host = connect(sockPath);
    await spliced;
  });
  after(async () => {
    client?.terminate();
    host?.destroy();
    bridged?.destroy();
    await new Promise((r) => http.close(r));
    await new Promise((r) => unix.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies 32 MiB each way at once, intact', async () => {
    const data = randomBytes(32 * MiB);
    const want = createHash('sha256').update(data).digest('hex');
    const toHost = createHash('sha256');
    const toClient = createHash('sha256');
    let atHost = 0;
    let atClient = 0;
    const onHost = (d: Buffer) => {
      toHost.update(d);
      atHost += d.length;
    };
    const onClient = (d: Buffer) => {
      toClient.update(d);
      atClient += d.length;
    };
    host.on('data', onHost);
    client.on('message', onClient);
    for (let off = 0; off < data.length; off += FRAME) client.send(data.subarray(off, off + FRAME));
    host.write(data);
    const deadline = Date.now() + 30_000;
    while ((atHost < data.length || atClient < data.length) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    host.off('data', onHost);
    client.off('message', onClient);
    assert.equal(toHost.digest('hex'), want);
    assert.equal(toClient.digest('hex'), want);
  });

  it('holds back the WebSocket when the host stops reading', async () => {
    host.pause();
    const total = 32 * MiB;
    const chunk = randomBytes(FRAME);
    for (let sent = 0; sent < total; sent += FRAME) client.send(chunk);
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(
      bridged.writableLength <= HIGH + FRAME,
      `bridge buffers ${bridged.writableLength} bytes towards the host`,
    );
    assert.ok(client.bufferedAmount > total / 2, `the sender keeps the rest (${client.bufferedAmount} bytes)`);
    let drained = 0;
    host.on('data', (d: Buffer) => {
      drained += d.length;
    });
    host.resume();
    const deadline = Date.now() + 20_000;
    while (drained < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(drained, total);
    host.removeAllListeners('data');
  });

  it('stops reading the host when the WebSocket client stops reading', async () => {
    const clientSocket = (client as unknown as { _socket: Socket })._socket;
    clientSocket.pause();
    const total = 32 * MiB;
    const chunk = randomBytes(FRAME);
    for (let sent = 0; sent < total; sent += FRAME) host.write(chunk);
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(bridged.isPaused(), 'the bridge paused the host side');
    assert.ok(host.writableLength > total / 2, `the host keeps the rest (${host.writableLength} bytes)`);
    let got = 0;
    client.on('message', (d: Buffer) => {
      got += d.length;
    });
    clientSocket.resume();
    const deadline = Date.now() + 20_000;
    while (got < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(got, total);
  });
});
