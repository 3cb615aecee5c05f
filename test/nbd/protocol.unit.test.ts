// The server and client over in-memory streams: every option and command, structured replies,
// out-of-order completion, the request cap, back-pressure, and the answers to protocol violations.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { NbdError, type BlockBackend } from '../../src/nbd/backend.js';
import { NbdClient } from '../../src/nbd/client.js';
import { clientBackend } from '../../src/nbd/client-backend.js';
import * as C from '../../src/nbd/constants.js';
import { NbdServer } from '../../src/nbd/server.js';
import { ByteReader } from '../../src/nbd/byte-reader.js';
import { encodeGreeting, encodeOption, encodeOptionReply, encodeRequest, view } from '../../src/nbd/wire.js';
import { hex, memoryBackend, memoryStreamPair } from './helpers.js';
import { waitFor } from '../helpers/wait.js';
import { RawPeer } from './raw-peer.js';

const MiB = 1024 * 1024;

function serverFor(backend: BlockBackend, opts: { name?: string } = {}): NbdServer {
  return new NbdServer({ exports: new Map([[opts.name ?? '', backend]]) });
}

/** Waits until `count` stays the same over three probes 20 ms apart: the server has done all it
 *  will with what it was sent (it runs on microtasks over the in-memory streams). */
async function settled(what: string, count: () => number): Promise<void> {
  let last = -1;
  let same = 0;
  await waitFor(
    () => `${what} to stop growing (last ${last})`,
    () => {
      same = count() === last ? same + 1 : 0;
      last = count();
      return same >= 2;
    },
    // 50,000 requests through in-memory streams take seconds when the machine is loaded
    { timeoutMs: 30_000 },
  );
}

function nameInfo(name: string, infos: number[] = []): Uint8Array {
  const n = new TextEncoder().encode(name);
  const d = new Uint8Array(4 + n.length + 2 + 2 * infos.length);
  const v = view(d);
  v.setUint32(0, n.length);
  d.set(n, 4);
  v.setUint16(4 + n.length, infos.length);
  infos.forEach((t, i) => v.setUint16(6 + n.length + 2 * i, t));
  return d;
}

describe('handshake', () => {
  test('greets fixed newstyle + NO_ZEROES; INFO reports export, name and block size; GO enters transmission', async () => {
    const peer = new RawPeer(serverFor(memoryBackend(new Uint8Array(5000)), { name: 'disk' }));
    assert.equal(await peer.start(), C.FLAG_FIXED_NEWSTYLE | C.FLAG_NO_ZEROES);
    peer.option(C.OPT_INFO, nameInfo('disk', [C.INFO_NAME, C.INFO_BLOCK_SIZE]));
    const infos: Record<number, DataView> = {};
    for (;;) {
      const r = await peer.optionReply();
      assert.equal(r.option, C.OPT_INFO);
      if (r.type === C.REP_ACK) break;
      assert.equal(r.type, C.REP_INFO);
      infos[view(r.data).getUint16(0)] = view(r.data);
    }
    assert.equal(infos[C.INFO_EXPORT]!.getUint32(6), 5000);
    assert.equal(infos[C.INFO_EXPORT]!.getUint16(10) & (C.FLAG_HAS_FLAGS | C.FLAG_READ_ONLY), C.FLAG_HAS_FLAGS);
    assert.equal(
      new TextDecoder().decode(new Uint8Array(infos[C.INFO_NAME]!.buffer, infos[C.INFO_NAME]!.byteOffset + 2, 4)),
      'disk',
    );
    assert.deepEqual(
      [1, 4096, 32 * MiB].map((_, i) => infos[C.INFO_BLOCK_SIZE]!.getUint32(2 + 4 * i)),
      [1, 4096, 32 * MiB],
    );
    peer.option(C.OPT_INFO, nameInfo('nope'));
    const unknown = await peer.optionReply();
    assert.equal(unknown.type, C.REP_ERR_UNKNOWN);
    assert.match(new TextDecoder().decode(unknown.data), /no export named "nope"/);
    peer.option(C.OPT_GO, nameInfo('disk'));
    while ((await peer.optionReply()).type !== C.REP_ACK);
    peer.request(C.CMD_READ, { length: 10, offset: 4990 });
    assert.equal((await peer.reply()).data.length, 10);
  });

  test('LIST, STRUCTURED_REPLY, unknown options, bad option data and ABORT', async () => {
    const server = new NbdServer({
      exports: new Map([
        ['a', memoryBackend(new Uint8Array(1))],
        ['b', memoryBackend(new Uint8Array(1))],
      ]),
    });
    const peer = new RawPeer(server);
    await peer.start();
    peer.option(C.OPT_LIST);
    const names: string[] = [];
    for (let r = await peer.optionReply(); r.type !== C.REP_ACK; r = await peer.optionReply()) {
      assert.equal(r.type, C.REP_SERVER);
      names.push(new TextDecoder().decode(r.data.subarray(4)));
    }
    assert.deepEqual(names, ['a', 'b']);
    const expect = async (option: number, data: Uint8Array, type: number) => {
      peer.option(option, data);
      const r = await peer.optionReply();
      assert.equal(r.option, option);
      assert.equal(r.type, type, `option ${option} with ${data.length} bytes`);
    };
    await expect(C.OPT_LIST, new Uint8Array(1), C.REP_ERR_INVALID);
    await expect(C.OPT_STRUCTURED_REPLY, new Uint8Array(2), C.REP_ERR_INVALID);
    await expect(C.OPT_STRUCTURED_REPLY, new Uint8Array(0), C.REP_ACK);
    await expect(C.OPT_STARTTLS, new Uint8Array(0), C.REP_ERR_POLICY);
    await expect(99, new Uint8Array(7), C.REP_ERR_UNSUP);
    await expect(C.OPT_GO, new Uint8Array(3), C.REP_ERR_INVALID); // shorter than the fixed fields
    const lying = nameInfo('a', [C.INFO_NAME]);
    view(lying).setUint32(0, 1000); // name length beyond the option
    await expect(C.OPT_GO, lying, C.REP_ERR_INVALID);
    await expect(C.OPT_INFO, new Uint8Array([...nameInfo('a'), 0]), C.REP_ERR_INVALID); // trailing byte
    await expect(
      C.OPT_GO,
      nameInfo('\u00ff').map((b, i) => (i === 4 ? 0xff : b)),
      C.REP_ERR_INVALID,
    ); // not UTF-8
    await expect(C.OPT_INFO, new Uint8Array(100_000), C.REP_ERR_TOO_BIG); // discarded, not buffered
    await expect(C.OPT_ABORT, new Uint8Array(0), C.REP_ACK);
    await peer.served;
    assert.equal(peer.closed, true);
  });

  test('EXPORT_NAME: known name → size and flags (124 zeroes unless NO_ZEROES); unknown → disconnect', async () => {
    const backend = memoryBackend(new Uint8Array(777), { readOnly: true });
    for (const noZeroes of [true, false]) {
      const peer = new RawPeer(serverFor(backend, { name: 'x' }));
      await peer.start(C.FLAG_C_FIXED_NEWSTYLE | (noZeroes ? C.FLAG_C_NO_ZEROES : 0));
      peer.option(C.OPT_EXPORT_NAME, new TextEncoder().encode('x'));
      const v = view(await peer.reader.read(10));
      assert.equal(v.getUint32(4), 777);
      assert.equal(v.getUint16(8) & C.FLAG_READ_ONLY, C.FLAG_READ_ONLY);
      if (!noZeroes) assert.equal(hex(await peer.reader.read(124)), '00'.repeat(124));
      peer.request(C.CMD_READ, { handle: 9, length: 7 });
      const r = await peer.reply();
      assert.equal(r.handle, 9);
      assert.equal(r.data.length, 7);
      assert.equal(peer.reader.buffered, 0);
    }
    const peer = new RawPeer(serverFor(backend, { name: 'x' }));
    await peer.start();
    peer.option(C.OPT_EXPORT_NAME, new TextEncoder().encode('y'));
    await peer.served;
    assert.equal(peer.closed, true);
  });

  test('a client that sends options without reading the replies gets no more replies than the transport holds', async () => {
    const [a, b] = memoryStreamPair(64 * 1024);
    let output = 0;
    void serverFor(memoryBackend(new Uint8Array(1))).serve({
      ...b,
      write: (d) => {
        output += d.length;
        return b.write(d);
      },
    });
    a.pause(); // never reads
    a.write(new Uint8Array(4));
    const info = encodeOption(C.OPT_INFO, nameInfo(''));
    for (let i = 0; i < 20_000; i++) a.write(info);
    await settled('the replies', () => output);
    assert.ok(output < 256 * 1024, `${output} bytes of replies queued for a client that reads nothing`);
    a.close();
  });

  test('unknown client flags, bad option magic and a silent client end the session', async () => {
    const a = new RawPeer(serverFor(memoryBackend(new Uint8Array(1))));
    await a.start(1 << 5);
    await a.served;
    const b = new RawPeer(serverFor(memoryBackend(new Uint8Array(1))));
    await b.start();
    b.send(new Uint8Array(16).fill(0x41));
    await b.served;
    const quiet = new NbdServer({ exports: new Map([['', memoryBackend(new Uint8Array(1))]]), handshakeTimeoutMs: 50 });
    const c = new RawPeer(quiet);
    await c.served;
    assert.deepEqual([a.closed, b.closed, c.closed], [true, true, true]);
  });
});

describe('transmission', () => {
  for (const structured of [false, true]) {
    test(`every command and its errors (${structured ? 'structured' : 'simple'} replies)`, async () => {
      const data = new Uint8Array(randomBytes(MiB));
      const backend = memoryBackend(data);
      const peer = await new RawPeer(serverFor(backend)).open({ structured });
      assert.equal(peer.size, MiB);
      const want =
        C.FLAG_HAS_FLAGS |
        C.FLAG_SEND_FLUSH |
        C.FLAG_SEND_FUA |
        C.FLAG_SEND_TRIM |
        C.FLAG_SEND_WRITE_ZEROES |
        C.FLAG_SEND_CACHE |
        (structured ? C.FLAG_SEND_DF : 0);
      assert.equal(peer.flags, want);
      const call = async (type: number, opts: Parameters<RawPeer['request']>[1] = {}) => {
        peer.request(type, opts);
        return peer.reply();
      };
      const ok = await call(C.CMD_READ, { offset: 100, length: 1000, flags: structured ? C.CMD_FLAG_DF : 0 });
      assert.equal(hex(ok.data), hex(data.subarray(100, 1100)));
      if (structured) assert.equal(ok.chunkType, C.REPLY_TYPE_OFFSET_DATA);
      assert.equal(
        (await call(C.CMD_WRITE, { offset: 10, data: new Uint8Array([7, 8, 9]), flags: C.CMD_FLAG_FUA })).error,
        0,
      );
      assert.deepEqual([...data.subarray(10, 13)], [7, 8, 9]);
      assert.equal((await call(C.CMD_WRITE_ZEROES, { offset: 8, length: 4, flags: C.CMD_FLAG_NO_HOLE })).error, 0);
      assert.deepEqual([...data.subarray(8, 13)], [0, 0, 0, 0, 9]);
      assert.equal((await call(C.CMD_TRIM, { offset: 0, length: 4096 })).error, 0);
      assert.equal((await call(C.CMD_CACHE, { offset: 0, length: MiB })).error, 0);
      assert.equal((await call(C.CMD_FLUSH)).error, 0);
      assert.equal(backend.flushes, 2, 'FUA write and flush');
      assert.equal((await call(C.CMD_READ, { length: 0 })).error, 0);

      const errors: Array<[string, number, Parameters<RawPeer['request']>[1], number]> = [
        ['read past the end', C.CMD_READ, { offset: MiB - 1, length: 2 }, 22],
        ['read at offset 2^64-1', C.CMD_READ, { offset: Number.MAX_SAFE_INTEGER, length: 1 }, 22],
        ['write past the end', C.CMD_WRITE, { offset: MiB, data: new Uint8Array(1) }, 28],
        ['zeroes past the end', C.CMD_WRITE_ZEROES, { offset: MiB, length: 1 }, 28],
        ['trim past the end', C.CMD_TRIM, { offset: MiB, length: 1 }, 22],
        ['read over 32 MiB', C.CMD_READ, { length: 32 * MiB + 1 }, 75],
        ['write over 32 MiB (payload discarded)', C.CMD_WRITE, { data: new Uint8Array(32 * MiB + 1) }, 75],
        ['unknown command', 42, {}, 22],
        ['unknown flag', C.CMD_READ, { length: 1, flags: 1 << 9 }, 22],
        ['NO_HOLE on a read', C.CMD_READ, { length: 1, flags: C.CMD_FLAG_NO_HOLE }, 22],
        ['flush with a range', C.CMD_FLUSH, { offset: 1, length: 0 }, 22],
      ];
      if (!structured)
        errors.push(['DF without structured replies', C.CMD_READ, { length: 1, flags: C.CMD_FLAG_DF }, 22]);
      for (const [what, type, opts, errno] of errors) {
        const r = await call(type, opts);
        assert.equal(r.error, errno, what);
        if (structured) {
          assert.equal(r.chunkType, C.REPLY_TYPE_ERROR, what);
          assert.ok(r.message && r.message.length > 10, `${what}: the error chunk explains (${r.message})`);
        }
      }
      peer.request(C.CMD_DISC);
      await peer.served;
    });
  }

  test('a read-only export refuses writes, trims and zeroes with EPERM and stays usable', async () => {
    const peer = await new RawPeer(serverFor(memoryBackend(new Uint8Array(4096), { readOnly: true }))).open({
      structured: true,
    });
    assert.equal(peer.flags & C.FLAG_READ_ONLY, C.FLAG_READ_ONLY);
    for (const [type, opts] of [
      [C.CMD_WRITE, { data: new Uint8Array(512) }],
      [C.CMD_TRIM, { length: 512 }],
      [C.CMD_WRITE_ZEROES, { length: 512 }],
    ] as const) {
      peer.request(type, opts);
      const r = await peer.reply();
      assert.equal(r.error, 1);
      assert.match(r.message!, /read-only/);
    }
    peer.request(C.CMD_READ, { length: 4096 });
    assert.equal((await peer.reply()).data.length, 4096);
  });

  test('backend failures become error replies: NbdError code, system code, anything else EIO', async () => {
    const failing: BlockBackend = {
      size: 4096,
      readOnly: false,
      read: async (offset) => {
        if (offset === 0) throw new NbdError('ENOMEM', 'no memory');
        if (offset === 1) throw Object.assign(new Error('disk full'), { code: 'EDQUOT' });
        throw new Error('boom');
      },
    };
    const peer = await new RawPeer(serverFor(failing)).open({ structured: true });
    const got: number[] = [];
    for (const offset of [0, 1, 2]) {
      peer.request(C.CMD_READ, { offset, length: 1 });
      got.push((await peer.reply()).error);
    }
    assert.deepEqual(got, [12, 28, 5]);
  });

  test('requests run concurrently and replies come out of order', async () => {
    const data = new Uint8Array(randomBytes(64 * 1024));
    let started = 0;
    const slow: BlockBackend = {
      size: data.length,
      readOnly: true,
      read: async (offset, length) => {
        started++;
        await new Promise((r) => setTimeout(r, offset === 0 ? 60 : 5));
        return data.slice(offset, offset + length);
      },
    };
    const peer = await new RawPeer(serverFor(slow)).open({ structured: true });
    for (let i = 0; i < 64; i++) peer.request(C.CMD_READ, { handle: i + 1, offset: i * 1024, length: 1024 });
    const order: number[] = [];
    for (let i = 0; i < 64; i++) {
      const r = await peer.reply();
      assert.equal(hex(r.data), hex(data.subarray((r.handle - 1) * 1024, r.handle * 1024)));
      order.push(r.handle);
    }
    assert.equal(started, 64);
    assert.equal(order.at(-1), 1, 'the slow first request finishes last');
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      Array.from({ length: 64 }, (_, i) => i + 1),
    );
  });

  test('a full in-flight budget admits requests again in batches: none until 1 MiB of it is free, then all that fit', async () => {
    const KiB256 = 256 * 1024;
    const pending: Array<() => void> = [];
    const backend: BlockBackend = {
      size: 64 * MiB,
      readOnly: true,
      read: (_o, length) => new Promise((resolve) => pending.push(() => resolve(new Uint8Array(length)))),
    };
    const peer = await new RawPeer(serverFor(backend)).open();
    for (let i = 0; i < 16; i++) peer.request(C.CMD_READ, { handle: i + 1, offset: i * KiB256, length: KiB256 });
    await settled('the first reads', () => pending.length);
    assert.equal(pending.length, 8, 'the 2 MiB budget: 8 reads of 256 KiB');
    const releaseAndCount = async (n: number) => {
      for (const release of pending.splice(0, n)) release();
      for (let i = 0; i < n; i++) await peer.reply();
      await settled('the reads admitted', () => pending.length);
      return pending.length;
    };
    assert.equal(await releaseAndCount(3), 5, '768 KiB free: nothing admitted yet');
    assert.equal(await releaseAndCount(1), 8, '1 MiB free: the next 4 together');
    assert.equal(await releaseAndCount(8), 4, 'the rest');
    await releaseAndCount(4);
  });

  test('DISC waits for requests in flight, then closes', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const backend: BlockBackend = {
      size: 10,
      readOnly: true,
      read: async () => {
        await gate;
        return new Uint8Array(10);
      },
    };
    const peer = await new RawPeer(serverFor(backend)).open();
    peer.request(C.CMD_READ, { length: 10, handle: 5 });
    peer.request(C.CMD_DISC);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(peer.closed, false);
    release();
    assert.equal((await peer.reply()).handle, 5);
    await peer.served;
    assert.equal(peer.closed, true);
  });

  test('bad request magic is a hard disconnect', async () => {
    const peer = await new RawPeer(serverFor(memoryBackend(new Uint8Array(10)))).open();
    const req = encodeRequest(0, C.CMD_READ, 1, 0, 1);
    req[0]! ^= 0xff;
    peer.send(req);
    await peer.served;
    assert.equal(peer.closed, true);
  });

  test('a peer that stops reading replies stops being served: memory stays bounded', async () => {
    let reads = 0;
    const backend: BlockBackend = {
      size: 64 * MiB,
      readOnly: true,
      read: async (_o, length) => {
        reads++;
        return new Uint8Array(length);
      },
    };
    const peer = await new RawPeer(serverFor(backend), 4 * MiB).open();
    peer.stream.pause(); // the client reads nothing from now on
    let accepted = 0;
    for (let i = 0; i < 400; i++) {
      peer.request(C.CMD_READ, { handle: i, offset: 0, length: MiB });
      accepted++;
    }
    await settled('the reads', () => reads);
    // 400 × 1 MiB were requested; the server answered only until the transport was full
    assert.ok(reads < 80, `${reads} reads served to a peer that reads nothing`);
    assert.equal(accepted, 400);
    peer.stream.resume();
    let replies = 0;
    while (replies < 400) {
      const r = await peer.reply();
      assert.equal(r.data.length, MiB);
      replies++;
    }
    assert.equal(reads, 400, 'once the peer reads again, every request is served');
  });

  test('a peer that floods invalid requests without reading the errors stops being read', async () => {
    const [a, b] = memoryStreamPair(64 * 1024);
    let output = 0;
    void serverFor(memoryBackend(new Uint8Array(4096))).serve({
      ...b,
      write: (d) => {
        output += d.length;
        return b.write(d);
      },
    });
    const peer = new ByteReader(a);
    await peer.read(C.GREETING_BYTES);
    a.write(new Uint8Array(4));
    a.write(encodeOption(C.OPT_EXPORT_NAME, new Uint8Array(0)));
    await peer.read(10);
    a.pause();
    const bad = encodeRequest(0, 99, 1, 0, 0);
    for (let i = 0; i < 50_000; i++) a.write(bad);
    await settled('the error replies', () => output);
    assert.ok(output < 256 * 1024, `${output} bytes of error replies queued for a peer that reads nothing`);
    a.close();
  });

  test('writes from a peer that floods are read only as fast as they are served', async () => {
    let writes = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const backend: BlockBackend = {
      size: 256 * MiB,
      readOnly: false,
      read: async () => new Uint8Array(0),
      write: async () => {
        await gate;
        writes++;
      },
    };
    const peer = await new RawPeer(serverFor(backend), MiB).open();
    let full = false;
    for (let i = 0; i < 200 && !full; i++)
      full = !peer.request(C.CMD_WRITE, { handle: i, offset: i * MiB, data: new Uint8Array(MiB) });
    assert.equal(full, true, 'the transport reported back-pressure to the flooding writer');
    release();
    await waitFor('a write to be served', () => writes > 0);
  });
});

describe('client', () => {
  test('pipelined reads and writes against our server, splitting requests above the server maximum', async () => {
    const data = new Uint8Array(randomBytes(3 * MiB));
    const server = new NbdServer({ exports: new Map([['', memoryBackend(data)]]), maxRequestBytes: MiB });
    const [a, b] = memoryStreamPair();
    void server.serve(b);
    const client = await NbdClient.connect(a);
    assert.equal(hex(await client.read(0, 3 * MiB)), hex(data));
    const patch = new Uint8Array(randomBytes(2 * MiB + 5));
    await client.write(100, patch);
    assert.equal(hex(data.subarray(100, 100 + patch.length)), hex(patch));
    await assert.rejects(client.read(-1, 1), RangeError);
    await client.disconnect();
  });

  test('a request without reply times out with a message saying what; the late reply is dropped', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const backend: BlockBackend = {
      size: 100,
      readOnly: true,
      read: async (o, n) => {
        if (o === 0) await gate;
        return new Uint8Array(n).fill(o);
      },
    };
    const [a, b] = memoryStreamPair();
    void serverFor(backend).serve(b);
    const client = await NbdClient.connect(a, { timeoutMs: 100 });
    await assert.rejects(client.read(0, 10), /read of 10 bytes at offset 0: no reply within 100 ms/);
    release();
    assert.deepEqual([...(await client.read(5, 2))], [5, 5]);
    await client.disconnect();
  });

  test('each request keeps its own deadline under the one watchdog timer', async () => {
    // offset 0 never answers; offset 1 answers at once; offset 2 is sent 150 ms after offset 0 and
    // does not answer either: it must get its own full 300 ms, not offset 0's remainder
    const backend: BlockBackend = {
      size: 100,
      readOnly: true,
      read: (o, n) => (o === 1 ? Promise.resolve(new Uint8Array(n).fill(o)) : new Promise(() => undefined)),
    };
    const [a, b] = memoryStreamPair();
    void serverFor(backend).serve(b);
    const client = await NbdClient.connect(a, { timeoutMs: 300 });
    const started = performance.now();
    const first = client.read(0, 1).then(
      () => assert.fail('offset 0 has no reply'),
      (err: Error) => ({ err, after: performance.now() - started }),
    );
    assert.deepEqual([...(await client.read(1, 1))], [1]);
    await new Promise((r) => setTimeout(r, 150));
    const second = client.read(2, 1).then(
      () => assert.fail('offset 2 has no reply'),
      (err: Error) => ({ err, after: performance.now() - started }),
    );
    const [one, two] = await Promise.all([first, second]);
    assert.match(one.err.message, /read of 1 bytes at offset 0: no reply within 300 ms/);
    assert.match(two.err.message, /read of 1 bytes at offset 2: no reply within 300 ms/);
    assert.ok(one.after >= 300 && one.after < 1000, `offset 0 gave up after ${one.after} ms`);
    assert.ok(
      two.after >= 450 && two.after < 1200,
      `offset 2 gave up after ${two.after} ms, not 300 ms after it was sent`,
    );
  });

  test('a relayed read (clientBackend, no promise per request): data, the upstream error, a timeout, a split read', async () => {
    const data = randomBytes(64 * 1024);
    const upstream: BlockBackend = {
      size: data.length,
      readOnly: true,
      read: (o, n) => {
        if (o === 4096) return Promise.reject(new NbdError('ENOSPC', 'upstream full'));
        if (o === 8192) return new Promise(() => undefined); // never answers
        return Promise.resolve(data.subarray(o, o + n));
      },
    };
    const [a, b] = memoryStreamPair();
    void new NbdServer({ exports: new Map([['', upstream]]), maxRequestBytes: 16 * 1024 }).serve(b);
    const relayClient = await NbdClient.connect(a, { timeoutMs: 200 });
    const relay = serverFor(clientBackend(relayClient));
    const [c, d] = memoryStreamPair();
    void relay.serve(d);
    const client = await NbdClient.connect(c);
    assert.equal(hex(await client.read(100, 300)), hex(data.subarray(100, 400)));
    await assert.rejects(client.read(4096, 10), (err: NbdError) => err.code === 'ENOSPC');
    await assert.rejects(client.read(8192, 10), (err: NbdError) => err.code === 'EIO');
    // the upstream takes at most 16 KiB a request: the relay's client splits, its server answers whole
    assert.equal(hex(await client.read(12288, 32 * 1024)), hex(data.subarray(12288, 12288 + 32 * 1024)));
    await client.disconnect();
  });

  test('a server without NBD_OPT_GO (ERR_UNSUP): falls back to NBD_OPT_EXPORT_NAME', async () => {
    const [a, b] = memoryStreamPair();
    const server = new ByteReader(b);
    const clientPromise = NbdClient.connect(a, { exportName: 'old' });
    b.write(encodeGreeting(C.FLAG_FIXED_NEWSTYLE)); // no NO_ZEROES: the 124 zeroes follow the export info
    assert.equal(view(await server.read(4)).getUint32(0), C.FLAG_C_FIXED_NEWSTYLE);
    const go = view(await server.read(16));
    assert.equal(go.getUint32(8), C.OPT_GO);
    await server.read(go.getUint32(12));
    b.write(encodeOptionReply(C.OPT_GO, C.REP_ERR_UNSUP, new Uint8Array(0)));
    const exportName = view(await server.read(16));
    assert.equal(exportName.getUint32(8), C.OPT_EXPORT_NAME);
    assert.equal(new TextDecoder().decode(await server.read(exportName.getUint32(12))), 'old');
    const info = new Uint8Array(10 + 124);
    view(info).setUint32(4, 4096);
    view(info).setUint16(8, C.FLAG_HAS_FLAGS | C.FLAG_READ_ONLY);
    b.write(info);
    const client = await clientPromise;
    assert.deepEqual([client.size, client.readOnly], [4096, true]);
  });

  test('handshake errors say what failed', async () => {
    const [a, b] = memoryStreamPair();
    b.write(new TextEncoder().encode('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await assert.rejects(NbdClient.connect(a), /not an NBD server/);
    const [c] = memoryStreamPair(); // a server that never speaks
    await assert.rejects(NbdClient.connect(c, { timeoutMs: 50 }), /did not finish within 50 ms/);
    // a server that hangs up at once is not a timeout, even with a timer set
    const [d, e] = memoryStreamPair();
    e.close();
    await assert.rejects(NbdClient.connect(d, { timeoutMs: 30_000 }), (err: Error) => {
      assert.doesNotMatch(err.message, /did not finish within/);
      assert.match(err.message, /closed/);
      return true;
    });
  });
});

/** A ByteReader over a transport the test feeds by hand: `deliver` hands it one chunk. */
function handFedReader(highWater?: number): { reader: ByteReader; deliver: (d: Uint8Array) => void } {
  let deliver!: (d: Uint8Array) => void;
  const reader = new ByteReader(
    {
      write: () => true,
      onData: (cb) => {
        deliver = cb;
      },
      onDrain() {},
      onClose() {},
      pause() {},
      resume() {},
      close() {},
    },
    highWater,
  );
  return { reader, deliver: (d) => deliver(d) };
}

describe('ByteReader', () => {
  test('exact reads across chunk boundaries; pauses above high water and resumes when read', async () => {
    const [a, b] = memoryStreamPair(1 << 30);
    let pauses = 0;
    let resumes = 0;
    const reader = new ByteReader(
      {
        ...b,
        pause: () => {
          pauses++;
          b.pause();
        },
        resume: () => {
          resumes++;
          b.resume();
        },
      },
      1000,
    );
    const bytes = new Uint8Array(randomBytes(5000));
    for (let i = 0; i < bytes.length; i += 7) a.write(bytes.subarray(i, i + 7));
    await waitFor('the reader to pause', () => pauses >= 1);
    assert.ok(reader.buffered < 1100, `paused at ${reader.buffered} bytes`);
    const got: Uint8Array[] = [];
    for (let left = bytes.length; left > 0; left -= Math.min(left, 999))
      got.push(await reader.read(Math.min(left, 999)));
    assert.ok(resumes >= 1);
    assert.equal(hex(Buffer.concat(got)), hex(bytes));
  });

  test('a transport that reads every chunk into one reused buffer: reads, readInto and discard get the right bytes', async () => {
    const { reader, deliver } = handFedReader();
    const bytes = new Uint8Array(randomBytes(100_000));
    const reused = new Uint8Array(4096);
    const send = (from: number, to: number) => {
      for (let at = from; at < to; at += reused.length) {
        const n = Math.min(reused.length, to - at);
        reused.set(bytes.subarray(at, at + n));
        deliver(reused.subarray(0, n));
        reused.fill(0xee); // what the transport's next read would leave there
      }
    };
    send(0, 10_000); // staged: nobody reads yet
    const first = await reader.read(3000);
    const into = new Uint8Array(50_000);
    const filling = reader.readInto(into); // 7000 staged bytes, the rest straight from the transport
    send(10_000, 60_000);
    await filling;
    const discarding = reader.discard(20_000);
    send(60_000, 100_000);
    await discarding;
    const last = await reader.read(20_000);
    assert.equal(hex(first), hex(bytes.subarray(0, 3000)));
    assert.equal(hex(into), hex(bytes.subarray(3000, 53_000)));
    assert.equal(hex(last), hex(bytes.subarray(73_000, 93_000)));
    assert.equal(reader.buffered, 7000);
  });

  test('a transport reading into memory the reader names: a header read alone, then its payload in place, no copy', () => {
    let deliver!: (d: Uint8Array) => void;
    let target!: () => Uint8Array | undefined;
    const reader = new ByteReader({
      write: () => true,
      onData: (cb) => {
        deliver = cb;
      },
      readTarget: (pick) => {
        target = pick;
      },
      onDrain() {},
      onClose() {},
      pause() {},
      resume() {},
      close() {},
    });
    const bytes = new Uint8Array(randomBytes(200_000));
    let at = 0;
    const own = new Uint8Array(4096);
    const direct: number[] = [];
    /** One read of the transport: at most `max` bytes, into the reader's target if it names one. */
    const readOnce = (max = Infinity) => {
      const t = target();
      const into = t ?? own;
      const n = Math.min(into.length, max, bytes.length - at);
      into.set(bytes.subarray(at, at + n));
      at += n;
      if (t) direct.push(n);
      else own.fill(0xee, n); // what a reused buffer holds beyond this read
      deliver(into.subarray(0, n));
    };
    const failed = (err: Error) => assert.fail(err);
    const header = new Uint8Array(16);
    const payload = new Uint8Array(100_000);
    const order: string[] = [];
    assert.equal(target(), undefined, 'nothing pending: the transport reads into its own buffer');
    const onHeader = () => {
      order.push('header');
      // named within the data callback: the transport's next read goes straight into it
      assert.equal(
        reader.fill(payload, payload.length, () => order.push('payload'), failed),
        false,
      );
    };
    assert.equal(reader.fill(header, header.length, onHeader, failed, true), false);
    readOnce();
    readOnce(60_000);
    readOnce();
    assert.deepEqual(order, ['header', 'payload']);
    assert.deepEqual(direct, [16, 60_000, 40_000]);
    assert.equal(hex(header), hex(bytes.subarray(0, 16)));
    assert.equal(hex(payload), hex(bytes.subarray(16, 100_016)));

    // small reads are not worth a read of their own: the transport's buffer, copied, rest staged
    const small = new Uint8Array(100);
    assert.equal(
      reader.fill(small, small.length, () => order.push('small'), failed),
      false,
    );
    assert.equal(target(), undefined);
    readOnce();
    assert.equal(hex(small), hex(bytes.subarray(100_016, 100_116)));
    assert.equal(reader.buffered, 4096 - 100);
    // staged bytes satisfy a fill at once; done callbacks that fill again are fed one chunk in order
    const h2 = new Uint8Array(8);
    assert.equal(
      reader.fill(h2, 8, () => assert.fail('staged bytes fill at once, without the callback'), failed),
      true,
    );
    const tail = new Uint8Array(40_000);
    const h3 = new Uint8Array(8);
    assert.equal(
      reader.fill(tail, tail.length, () => reader.fill(h3, h3.length, () => order.push('h3'), failed), failed),
      false,
    );
    readOnce(); // the rest of `tail` lands in place
    readOnce(); // h3 and more, staged
    assert.deepEqual(order, ['header', 'payload', 'small', 'h3']);
    assert.deepEqual(
      direct,
      [16, 60_000, 40_000, 40_000 - (4096 - 108)],
      "tail's staged start copied, its rest in place",
    );
    const base = 100_116;
    assert.equal(hex(h2), hex(bytes.subarray(base, base + 8)));
    assert.equal(hex(tail), hex(bytes.subarray(base + 8, base + 40_008)));
    assert.equal(hex(h3), hex(bytes.subarray(base + 40_008, base + 40_016)));
  });

  test('one-byte chunks are read in linear time: 10x the chunks take about 10x as long', async () => {
    /** ms to read n one-byte chunks in 30-byte reads. */
    const timeRead = async (n: number): Promise<number> => {
      const { reader, deliver } = handFedReader(1 << 30);
      for (let i = 0; i < n; i++) deliver(new Uint8Array([(i % 255) + 1]));
      const started = performance.now();
      let sum = 0;
      for (let i = 0; i < n / 30; i++) sum += (await reader.read(30))[29]!;
      assert.ok(sum > 0);
      return performance.now() - started;
    };
    await timeRead(30_000); // warm-up: JIT
    // a ratio, not a wall-clock bound, so a loaded machine does not fail it; quadratic would be ~100x
    const small = await timeRead(30_000);
    const large = await timeRead(300_000);
    assert.ok(large / small < 30, `30,000 chunks: ${small.toFixed(0)} ms, 300,000: ${large.toFixed(0)} ms`);
  });
});
