// The read-ahead backend against a model (fast-check: any mix of reads and writes gives the bytes a
// plain image would), and its promises: aligned chunk fetches only, a sequential reader's next
// chunks fetched in parallel over the upstreams before it asks, bounded memory, a failed fetch
// retried by the next read. Then through real nbdkit: the provider's slot socket read the way the
// kernel reads (128 KiB requests) gives the image's bytes with fewer, larger upstream reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { BlockBackend } from '../../src/nbd/backend.js';
import { NbdError } from '../../src/nbd/backend.js';
import { IDLE_RELEASE_MS, readaheadBackend, type ReadaheadOptions } from '../../src/sources/readahead/backend.js';
import { NbdClient } from '../../src/nbd/client.js';
import { connectUnix } from '../../src/nbd-node/socket-stream.js';
import { startProvider, randomImage } from './helpers/provider.js';
import { startImageServer } from './helpers/image-server.js';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

interface Fetch {
  offset: number;
  length: number;
}

/** An in-memory image behind several "connections": records each read and how many overlap. */
function memoryUpstreams(image: Uint8Array, count: number, delayMs = 0) {
  const fetches: Fetch[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let failNext = 0;
  const wait = () => new Promise((r) => setTimeout(r, delayMs));
  const upstreams: BlockBackend[] = Array.from({ length: count }, () => ({
    size: image.length,
    readOnly: false,
    async read(offset: number, length: number) {
      fetches.push({ offset, length });
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        if (delayMs) await wait();
        if (failNext > 0) {
          failNext -= 1;
          throw new NbdError('EIO', 'injected upstream failure');
        }
        return image.slice(offset, offset + length);
      } finally {
        inFlight -= 1;
      }
    },
    async write(offset: number, data: Uint8Array) {
      image.set(data, offset);
    },
  }));
  return {
    upstreams,
    fetches,
    maxInFlight: () => maxInFlight,
    failNextReads: (n: number) => {
      failNext = n;
    },
  };
}

const OPTS: ReadaheadOptions = { chunkBytes: 4096, aheadChunks: 4, maxChunks: 8 };

test('model: any reads and writes give the bytes of a plain image; every fetch is one aligned chunk', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 40_000 }),
      fc.array(
        fc.record({
          write: fc.boolean(),
          at: fc.double({ min: 0, max: 1, noNaN: true }),
          length: fc.integer({ min: 0, max: 20_000 }),
        }),
        { maxLength: 40 },
      ),
      async (size, ops) => {
        const model = new Uint8Array(randomBytes(size));
        const { upstreams, fetches } = memoryUpstreams(model.slice(), 3);
        const backend = readaheadBackend(upstreams, OPTS);
        for (const op of ops) {
          const offset = Math.floor(op.at * size);
          const length = Math.min(op.length, size - offset);
          if (op.write) {
            const data = new Uint8Array(randomBytes(length));
            await backend.write!(offset, data, false);
            model.set(data, offset);
          } else {
            assert.deepEqual(await backend.read(offset, length), model.subarray(offset, offset + length));
          }
        }
        for (const f of fetches) {
          assert.equal(f.offset % OPTS.chunkBytes, 0, `fetch at ${f.offset} is not chunk-aligned`);
          assert.equal(f.length, Math.min(OPTS.chunkBytes, size - f.offset));
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('a sequential reader: the next chunks are fetched ahead, in parallel, each once; memory stays bounded', async () => {
  const size = 64 * OPTS.chunkBytes;
  const image = new Uint8Array(randomBytes(size));
  const up = memoryUpstreams(image, 4, 5);
  const backend = readaheadBackend(up.upstreams, OPTS);
  const read = 1024;
  for (let offset = 0; offset < size; offset += read) {
    assert.deepEqual(await backend.read(offset, read), image.subarray(offset, offset + read));
  }
  assert.equal(backend.chunkReads, 64, 'each chunk fetched exactly once');
  assert.ok(up.maxInFlight() > 1, `fetches overlapped (at most ${up.maxInFlight()} at once)`);
  // fetches ran ahead of the reader: the reads after the first two never waited on a fetch of their own
  assert.deepEqual(
    up.fetches.map((f) => f.offset / OPTS.chunkBytes),
    [...Array(64).keys()],
  );
  assert.ok(up.maxInFlight() <= OPTS.aheadChunks + 1);
});

test('interleaved sequential streams each get read-ahead; a random reader fetches only what it reads', async () => {
  const size = 64 * OPTS.chunkBytes;
  const image = new Uint8Array(randomBytes(size));
  const up = memoryUpstreams(image, 2);
  const backend = readaheadBackend(up.upstreams, OPTS);
  const half = size / 2;
  for (let i = 0; i < half; i += 2048) {
    assert.deepEqual(await backend.read(i, 2048), image.subarray(i, i + 2048));
    assert.deepEqual(await backend.read(half + i, 2048), image.subarray(half + i, half + i + 2048));
  }
  // the streams share the chunks: only the read-ahead of the first, before the second showed up, is lost
  assert.ok(backend.chunkReads <= 64 + OPTS.aheadChunks, `two streams: ${backend.chunkReads} fetches of 64 chunks`);

  const random = memoryUpstreams(image, 2);
  const r = readaheadBackend(random.upstreams, OPTS);
  for (const chunk of [40, 3, 17, 60, 9]) await r.read(chunk * OPTS.chunkBytes + 100, 200);
  assert.equal(r.chunkReads, 5, 'no read-ahead for reads that follow no stream');
});

test('many random reads at once: at most maxChunks fetches in flight, every read gets its bytes', async () => {
  const size = 256 * OPTS.chunkBytes;
  const image = new Uint8Array(randomBytes(size));
  const up = memoryUpstreams(image, 4, 2);
  const backend = readaheadBackend(up.upstreams, OPTS);
  const offsets = Array.from({ length: 64 }, (_, i) => ((i * 97) % 256) * OPTS.chunkBytes + 10);
  const datas = await Promise.all(offsets.map((o) => backend.read(o, 100)));
  for (const [i, o] of offsets.entries()) assert.deepEqual(datas[i], image.subarray(o, o + 100));
  assert.ok(up.maxInFlight() <= OPTS.maxChunks, `${up.maxInFlight()} fetches in flight at once`);
});

test('a failed fetch fails the read that needs it, and the next read fetches again', async () => {
  const image = new Uint8Array(randomBytes(16 * OPTS.chunkBytes));
  const up = memoryUpstreams(image, 2);
  const backend = readaheadBackend(up.upstreams, OPTS);
  up.failNextReads(1);
  await assert.rejects(backend.read(0, 100), (err: unknown) => err instanceof NbdError && err.code === 'EIO');
  assert.deepEqual(await backend.read(0, 100), image.subarray(0, 100));
  await assert.rejects(async () => readaheadBackend([], OPTS), RangeError);
});

test('through nbdkit curl: 128 KiB reads of the slot socket give the image, fetched in read-ahead chunks', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-ra-'));
  const image = path.join(dir, 'disk.img');
  const sha = await randomImage(image, 16);
  const server = await startImageServer({ files: new Map([['/disk.img', image]]) });
  const harness = await startProvider({ sources: { Readahead: { ChunkKiB: 1024, AheadChunks: 4, Connections: 3 } } });
  try {
    const { socket, source } = await harness.mount(`${server.origin}/disk.img`);
    const client = await NbdClient.connect(await connectUnix(socket));
    assert.equal(client.preferredBlockBytes, 256 * 1024, 'a request size below the chunk is advertised');
    const hash = createHash('sha256');
    const step = 128 * 1024;
    for (let offset = 0; offset < client.size; offset += step * 2) {
      const [a, b] = await Promise.all([client.read(offset, step), client.read(offset + step, step)]);
      hash.update(a).update(b);
    }
    await client.disconnect();
    assert.equal(hash.digest('hex'), sha);
    const gets = server.requests.filter((r) => r.method === 'GET');
    assert.equal(gets.length, 16, `16 ranged GETs of 1 MiB for a 16 MiB image, got ${gets.length}`);
    assert.ok(
      gets.every((r) => /^bytes=\d+-\d+$/.test(r.range ?? '')),
      'every GET is a range request',
    );
    await source.stop();
    harness.assertNothingLeft();
  } finally {
    await harness.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fetches reuse chunk buffers: concurrent multi-chunk reads get their bytes while others evict and refill chunks', async () => {
  const opts: ReadaheadOptions = { chunkBytes: 4096, aheadChunks: 2, maxChunks: 8 };
  const size = 64 * opts.chunkBytes;
  const image = new Uint8Array(randomBytes(size));
  const buffers = new Set<ArrayBufferLike>();
  const upstreams: BlockBackend[] = Array.from({ length: 2 }, () => ({
    size,
    readOnly: true,
    read: () => Promise.reject(new Error('the read-ahead reads into its own buffers')),
    async readInto(offset: number, dest: Uint8Array) {
      buffers.add(dest.buffer);
      await new Promise((r) => setTimeout(r, (offset / opts.chunkBytes) % 3));
      dest.set(image.subarray(offset, offset + dest.length));
    },
  }));
  const backend = readaheadBackend(upstreams, opts);
  for (let round = 0; round < 40; round++) {
    // 3 reads at once, each over 3 chunks, with read-ahead: chunks are dropped while pinned
    const offsets = Array.from({ length: 3 }, (_, i) => ((round * 3 + i) * 7919) % (size - 3 * opts.chunkBytes));
    const datas = await Promise.all(
      offsets.map(async (offset) => {
        const dest = new Uint8Array(2 * opts.chunkBytes + 100);
        await backend.readInto!(offset, dest);
        return dest;
      }),
    );
    for (const [i, offset] of offsets.entries())
      assert.deepEqual(datas[i], image.subarray(offset, offset + datas[i]!.length), `read at ${offset}`);
  }
  // buffers: what the cache holds plus what the reads at once pin, however many rounds
  const bound = opts.maxChunks + 3 * 3;
  assert.ok(buffers.size <= bound, `${backend.chunkReads} fetches into ${buffers.size} buffers (bound ${bound})`);
  assert.ok(backend.chunkReads > 4 * bound);
});

test('a chunk a stream is still reading is not dropped to make room for read-ahead', async () => {
  const opts: ReadaheadOptions = { chunkBytes: 4096, aheadChunks: 2, maxChunks: 4 };
  const image = new Uint8Array(randomBytes(32 * opts.chunkBytes));
  const backend = readaheadBackend(memoryUpstreams(image, 1).upstreams, opts);
  const readAt = async (offset: number) =>
    assert.deepEqual(await backend.read(offset, 1024), image.subarray(offset, offset + 1024));
  await readAt(0); // stream A in chunk 0
  await readAt(1024); // A continues: chunks 1 and 2 fetched ahead
  const b = 10 * opts.chunkBytes;
  await readAt(b); // stream B in chunk 10: the 4 chunks are taken
  await readAt(b + 1024); // B continues: its read-ahead finds no room without dropping chunk 0, where A is
  await readAt(2048); // A reads on in chunk 0
  assert.equal(backend.chunkReads, 4, 'chunks 0, 1, 2 and 10, each fetched once');
});

test('streams of reads smaller than a chunk, several in flight each (nbdcopy): bytes right, buffers bounded', async () => {
  const opts: ReadaheadOptions = { chunkBytes: 8192, aheadChunks: 8, maxChunks: 16 };
  const size = 128 * opts.chunkBytes;
  const image = new Uint8Array(randomBytes(size));
  const up = memoryUpstreams(image, 4, 3);
  const backend = readaheadBackend(up.upstreams, opts);
  let peakResident = 0;
  const streams = 4;
  const region = size / streams;
  const readBytes = opts.chunkBytes / 8;
  await Promise.all(
    Array.from({ length: streams }, async (_, s) => {
      let next = s * region;
      // 8 reads in flight per stream, each taking the next offset: the order nbdcopy's requests arrive in
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          const dest = new Uint8Array(readBytes);
          while (next < (s + 1) * region) {
            const offset = next;
            next += readBytes;
            await backend.readInto!(offset, dest);
            assert.deepEqual(dest, image.subarray(offset, offset + readBytes), `read at ${offset}`);
            peakResident = Math.max(peakResident, backend.residentChunks);
          }
        }),
      );
    }),
  );
  // a read's own fetch may take a buffer while dropped chunks are still pinned (one a stream here);
  // once those reads are done the pool is back within its bound
  assert.ok(peakResident <= opts.maxChunks + streams, `${peakResident} chunk buffers held memory at once`);
  assert.ok(backend.residentChunks <= opts.maxChunks, `${backend.residentChunks} hold memory after the reads`);
});

test('after reads stop, the chunk buffers give their memory back at once (no collection needed), and reads go on', async () => {
  const opts: ReadaheadOptions = { chunkBytes: 1024 * 1024, aheadChunks: 8, maxChunks: 16 };
  const size = 32 * opts.chunkBytes;
  const image = new Uint8Array(randomBytes(size));
  const backend = readaheadBackend(memoryUpstreams(image, 4).upstreams, opts);
  const read = 128 * 1024;
  for (let offset = 0; offset < size; offset += read)
    assert.deepEqual(await backend.read(offset, read), image.subarray(offset, offset + read));
  const resident = backend.residentChunks;
  assert.ok(resident >= opts.aheadChunks, `${resident} chunk buffers hold memory after a sequential read`);
  const rssBefore = process.memoryUsage().rss;
  await new Promise((r) => setTimeout(r, IDLE_RELEASE_MS + 300));
  assert.equal(backend.residentChunks, 0, 'every chunk buffer released');
  const freed = rssBefore - process.memoryUsage().rss;
  // the pages of the released buffers left the process (a plain Uint8Array's stay until V8 collects it)
  assert.ok(freed >= (resident * opts.chunkBytes) / 2, `RSS fell by ${freed >> 20} MiB, ${resident} MiB were released`);
  assert.deepEqual(await backend.read(size - read, read), image.subarray(size - read));
  assert.equal(backend.residentChunks, 1, 'a read after the release gives one buffer memory again');
  await backend.close!();
});
