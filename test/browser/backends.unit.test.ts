// The page's backends against a plain byte array as the model: the windowed Blob reader (any
// read, any window size, cache or not) and the in-memory write overlay (any mix of writes).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { NbdError } from '../../src/nbd/backend.js';
import { blobBackend } from '../../src/browser/blob-backend.js';
import { overlayBackend } from '../../src/browser/overlay-backend.js';

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

test('overlay: reads see the writes made so far, the base is never written', async () => {
  const write = fc
    .record({
      offset: fc.integer({ min: 0, max: SIZE - 1 }),
      byte: fc.integer({ min: 0, max: 255 }),
      length: fc.integer({ min: 1, max: 9000 }),
    })
    .map((w) => ({ ...w, length: Math.min(w.length, SIZE - w.offset) }));
  const step = fc.oneof(
    write.map((w) => ({ kind: 'write' as const, ...w })),
    range.map((r) => ({ kind: 'read' as const, ...r })),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
      const base = new Uint8Array(image);
      const model = new Uint8Array(image);
      const overlay = overlayBackend(blobBackend(new Blob([base])), { maxBytes: SIZE * 2 });
      for (const s of steps) {
        if (s.kind === 'write') {
          const data = new Uint8Array(s.length).fill(s.byte);
          await overlay.write!(s.offset, data, false);
          model.set(data, s.offset);
        } else {
          assert.deepEqual(await overlay.read(s.offset, s.length), model.subarray(s.offset, s.offset + s.length));
        }
      }
      assert.deepEqual(base, image);
    }),
    { numRuns: 200 },
  );
});

test('overlay: concurrent partial writes into one block all land; a full overlay fails with ENOSPC', async () => {
  const overlay = overlayBackend(blobBackend(new Blob([image])), { maxBytes: 8192 });
  await Promise.all([0, 1, 2, 3].map((i) => overlay.write!(10 + i * 100, new Uint8Array(50).fill(i + 1), false)));
  const got = await overlay.read(0, 4096);
  for (let i = 0; i < 4; i++)
    assert.deepEqual(got.subarray(10 + i * 100, 60 + i * 100), new Uint8Array(50).fill(i + 1));
  await overlay.write!(4096, new Uint8Array(10), false); // the second block: still within 8192 bytes
  await assert.rejects(
    overlay.write!(8192, new Uint8Array(10), false),
    (err: unknown) => err instanceof NbdError && err.code === 'ENOSPC',
  );
  await overlay.flush!();
});
