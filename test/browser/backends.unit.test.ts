// The page's windowed Blob reader against a plain byte array as the model: any read, any window
// size, cache or not; windows read from byte streams (BYOB) or, for a Blob without one, with
// slice().arrayBuffer().
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { blobBackend, type BlobSlice } from '../../src/browser/blob-backend.js';

const SIZE = 100_000; // not a multiple of any window or block size
const image = new Uint8Array(randomBytes(SIZE));
const range = fc
  .integer({ min: 0, max: SIZE - 1 })
  .chain((offset) =>
    fc.record({ offset: fc.constant(offset), length: fc.integer({ min: 1, max: Math.min(SIZE - offset, 20_000) }) }),
  );

const CHANGED = 'the file was changed on disk';

/**
 * A Blob over `image` that counts the streams and whole-slice reads made of it and can be made to
 * fail; with `streams: false` its slices have no stream() (a browser without byte streams).
 */
function countingBlob({ streams }: { streams: boolean }) {
  const blob = new Blob([image]);
  const stats = { streams: 0, arrayBuffers: 0, failNext: false };
  return {
    stats,
    size: blob.size,
    slice(start: number, end: number): BlobSlice {
      const part = blob.slice(start, end);
      const failing = () => {
        const fail = stats.failNext;
        stats.failNext = false;
        return fail;
      };
      const arrayBuffer = () => {
        stats.arrayBuffers++;
        return failing() ? Promise.reject(new Error(CHANGED)) : part.arrayBuffer();
      };
      if (!streams) return { arrayBuffer };
      return {
        arrayBuffer,
        stream: () => {
          stats.streams++;
          if (!failing()) return part.stream();
          return new ReadableStream({ type: 'bytes', pull: (c) => c.error(new Error(CHANGED)) });
        },
      };
    },
  };
}

for (const streams of [true, false]) {
  const how = streams ? 'byte streams' : 'slice().arrayBuffer()';

  test(`blob backend (${how}): every read equals the bytes of the file, whatever the window size`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 512, max: 40_000 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(range, { minLength: 1, maxLength: 30 }),
        async (windowBytes, windows, reads) => {
          const backend = blobBackend(countingBlob({ streams }), { windowBytes, windows });
          const results = await Promise.all(reads.map((r) => backend.read(r.offset, r.length)));
          results.forEach((got, i) =>
            assert.deepEqual(got, image.subarray(reads[i]!.offset, reads[i]!.offset + reads[i]!.length)),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  test(`blob backend (${how}): a failed read fails that request and is retried by the next`, async () => {
    const blob = countingBlob({ streams });
    const backend = blobBackend(blob, { windowBytes: 32_768, windows: 2 });
    blob.stats.failNext = true;
    await assert.rejects(backend.read(0, 10), new RegExp(CHANGED));
    assert.deepEqual(await backend.read(0, 10), image.subarray(0, 10));
    blob.stats.failNext = true;
    await assert.rejects(backend.read(40_000, 40_000), new RegExp(CHANGED)); // larger than a window
    assert.deepEqual(await backend.read(40_000, 40_000), image.subarray(40_000, 80_000));
  });
}

test('blob backend: sequential small reads cost one Blob read per window without byte streams', async () => {
  const blob = countingBlob({ streams: false });
  const backend = blobBackend(blob, { windowBytes: 32_768, windows: 2 });
  for (let offset = 0; offset < SIZE; offset += 4096) await backend.read(offset, Math.min(4096, SIZE - offset));
  assert.equal(blob.stats.arrayBuffers, Math.ceil(SIZE / 32_768));
  assert.equal(blob.stats.streams, 0);
});

test('blob backend: each sequential reader continues one byte stream, however they interleave', async () => {
  const blob = countingBlob({ streams: true });
  const backend = blobBackend(blob, { windowBytes: 8192, windows: 8 });
  // two readers, one from the start and one from the middle, taking turns (nbdcopy's connections)
  const half = SIZE / 2;
  for (let offset = 0; offset < half; offset += 4096) {
    const [a, b] = await Promise.all([
      backend.read(offset, Math.min(4096, half - offset)),
      backend.read(half + offset, Math.min(4096, half - offset)),
    ]);
    assert.deepEqual(a, image.subarray(offset, offset + a.length));
    assert.deepEqual(b, image.subarray(half + offset, half + offset + b.length));
  }
  assert.equal(blob.stats.streams, 2);
  assert.equal(blob.stats.arrayBuffers, 0);
});
