// 100,000 seeded fuzz cases against the server's handshake and request parser: no crash, no
// hang, bounded output and memory. `npx tsx scripts/fuzz-nbd.ts` runs millions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fuzz } from './fuzz.js';

const CASES = 100_000;
const SEED = 20260101;

test(`the server survives ${CASES} fuzzed client streams`, async () => {
  const heapBefore = process.memoryUsage().heapUsed;
  const r = await fuzz(SEED, 0, CASES);
  assert.deepEqual(r.failures, []);
  assert.ok(r.bytesRead > 0 && r.bytesWritten > 0, 'the cases reach the transmission phase and get served');
  const growth = process.memoryUsage().heapUsed - heapBefore;
  assert.ok(growth < 64 * 1024 * 1024, `heap grew by ${Math.round(growth / 1048576)} MiB over the run`);
});
