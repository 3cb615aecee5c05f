// The web's bridge and the NBD listener read their accepted sockets into one reused buffer (src/net/read-buffer.ts,
// Node's `onread` set up on a socket a server made). On this Node the fast path must be taken,
// for a server's TLS sockets (what the web accepts) and plain ones: every read lands in the same
// buffer, the bytes arrive intact and in order (those the socket had read before the switch
// first), and pause() stops the reads until resume().
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect as connectTcp, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { connect as connectTls, createServer as createTlsServer } from 'node:tls';
import selfsigned from 'selfsigned';
import { readIntoBuffer } from '../../src/net/read-buffer.js';

const KiB = 1024;
const SIZE = 4 * 1024 * KiB;

interface Pair {
  /** The accepted socket, as the server made it (paused, nothing consumed yet). */
  accepted: Socket;
  /** The client's end. */
  client: Socket;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as { port: number }).port;
}

async function tcpPair(): Promise<Pair> {
  const server = createTcpServer({ pauseOnConnect: true });
  const port = await listen(server);
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const client = connectTcp(port, '127.0.0.1');
  return { accepted: await accepted, client, close: () => new Promise((r) => server.close(() => r())) };
}

async function tlsPair(): Promise<Pair> {
  const made = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
  });
  const server = createTlsServer({ cert: made.cert, key: made.private });
  const port = await listen(server);
  const accepted = new Promise<Socket>((r) =>
    server.once('secureConnection', (s: Socket) => {
      s.pause();
      r(s);
    }),
  );
  const client = connectTls({ port, host: '127.0.0.1', rejectUnauthorized: false });
  return { accepted: await accepted, client, close: () => new Promise((r) => server.close(() => r())) };
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

for (const [kind, makePair] of [
  ['TLS', tlsPair],
  ['plain TCP', tcpPair],
] as const) {
  describe(`reading a ${kind} socket into one buffer`, { timeout: 30_000 }, () => {
    it('delivers every byte in order into the same buffer, what was read before the switch first', async () => {
      const pair = await makePair();
      const { accepted, client } = pair;
      const data = randomBytes(SIZE);
      // some bytes arrive and are read (buffered by the stream) before the switch
      client.write(data.subarray(0, 1000));
      await new Promise((r) => setTimeout(r, 100));
      accepted.read(0);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(accepted.readableLength, 1000, 'the stream holds the first bytes');
      const buffer = Buffer.alloc(64 * KiB);
      const got: Buffer[] = [];
      let gotBytes = 0;
      const backings = new Set<ArrayBufferLike>();
      const done = new Promise<void>((resolve) => {
        const ok = readIntoBuffer(accepted, buffer, (bytes) => {
          backings.add(bytes.buffer);
          got.push(Buffer.from(bytes));
          gotBytes += bytes.length;
          if (gotBytes === SIZE) resolve();
        });
        assert.ok(ok, 'this Node takes the reused read buffer (read-buffer.ts relies on its internals)');
      });
      accepted.on('data', () => assert.fail("'data' events after the switch"));
      accepted.resume();
      for (let at = 1000; at < SIZE; at += 100 * KiB + 7)
        client.write(data.subarray(at, Math.min(SIZE, at + 100 * KiB + 7)));
      await done;
      assert.equal(sha(Buffer.concat(got)), sha(data));
      // the bytes read before the switch came from the stream's own buffer; every later read, ours
      assert.ok(backings.has(buffer.buffer), 'reads land in the buffer given');
      assert.ok(backings.size <= 2, `reads landed in ${backings.size} buffers`);
      client.destroy();
      accepted.destroy();
      await pair.close();
    });

    it('stops reading on pause() and goes on after resume()', async () => {
      const pair = await makePair();
      const { accepted, client } = pair;
      let gotBytes = 0;
      assert.ok(readIntoBuffer(accepted, Buffer.alloc(64 * KiB), (bytes) => (gotBytes += bytes.length)));
      accepted.resume();
      client.write(randomBytes(64 * KiB));
      while (gotBytes < 64 * KiB) await new Promise((r) => setTimeout(r, 10));
      accepted.pause();
      client.write(randomBytes(SIZE));
      await new Promise((r) => setTimeout(r, 300));
      // a TLS socket may hand over the records of the network read in progress, no more
      const whilePaused = gotBytes - 64 * KiB;
      assert.ok(whilePaused <= 256 * KiB, `${whilePaused} bytes read while paused`);
      accepted.resume();
      while (gotBytes < 64 * KiB + SIZE) await new Promise((r) => setTimeout(r, 10));
      client.destroy();
      accepted.destroy();
      await pair.close();
    });
  });
}
