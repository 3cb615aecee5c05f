// The page's windowed Blob reader against a plain byte array as the model: any read, any window
// size, cache or not.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { blobBackend } from '../../src/browser/blob-backend.js';

const SIZE = 100_000; // not a multiple of any window or block size
const image = new Uint8Array(randomBytes(SIZE));
const range = fc
  .integer({ min: 0, max: SIZE - 1 })
  .chain((offset) =>
    fc.record({ offset: fc.constant(offset), length: fc.integer({ min: 1, max: Math.min(SIZE - offset, 20_000) }) }),
  );

/** A Blob over `image` that counts its reads and can be made to fail. */
function countingBlob() {
  const blob = new Blob([image]);
  const stats = { reads: 0, failNext: false };
  return {
    stats,
    size: blob.size,
    slice(start: number, end: number) {
      stats.reads++;
      if (stats.failNext) {
        stats.failNext = false;
        return { arrayBuffer: () => Promise.reject(new Error('the file was changed on disk')) };
      }
      return blob.slice(start, end);
    },
  };
}

test('blob backend: every read equals the bytes of the file, whatever the window size', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 512, max: 40_000 }),
      fc.integer({ min: 1, max: 4 }),
      fc.array(range, { minLength: 1, maxLength: 30 }),
      async (windowBytes, windows, reads) => {
        const backend = blobBackend(countingBlob(), { windowBytes, windows });
        const results = await Promise.all(reads.map((r) => backend.read(r.offset, r.length)));
        results.forEach((got, i) =>
          assert.deepEqual(got, image.subarray(reads[i]!.offset, reads[i]!.offset + reads[i]!.length)),
        );
      },
    ),
    { numRuns: 200 },
  );
});

test('blob backend: sequential small reads cost one Blob read per window; a failed read is retried', async () => {
  const blob = countingBlob();
  const backend = blobBackend(blob, { windowBytes: 32_768, windows: 2 });
  for (let offset = 0; offset < SIZE; offset += 4096) await backend.read(offset, Math.min(4096, SIZE - offset));
  assert.equal(blob.stats.reads, Math.ceil(SIZE / 32_768));

  const fresh = blobBackend(blob, { windowBytes: 32_768, windows: 2 });
  blob.stats.failNext = true;
  await assert.rejects(fresh.read(0, 10), /changed on disk/);
  assert.deepEqual(await fresh.read(0, 10), image.subarray(0, 10));
});
