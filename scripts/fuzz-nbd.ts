// Long fuzz run of the NBD server (the test runs 100,000 cases of the same generator):
//   npx tsx scripts/fuzz-nbd.ts [--cases N] [--seed S]     default 2,000,000 cases, random seed
// Prints progress and heap use; exits 1 with the failing case seeds on any failure.
import { parseArgs } from 'node:util';
import { fuzz } from '../test/nbd/fuzz.js';

const { values } = parseArgs({ options: { cases: { type: 'string', default: '2000000' }, seed: { type: 'string' } } });
const cases = Number(values.cases);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
if (!Number.isInteger(cases) || cases <= 0 || !Number.isInteger(seed)) {
  console.error('usage: npx tsx scripts/fuzz-nbd.ts [--cases N] [--seed S]');
  process.exit(2);
}
console.log(`fuzzing the NBD server: ${cases} cases, seed ${seed}`);
const started = Date.now();
const batch = 100_000;
let maxHeap = 0;
for (let first = 0; first < cases; first += batch) {
  const r = await fuzz(seed, first, Math.min(batch, cases - first));
  const heap = process.memoryUsage().heapUsed / 1048576;
  maxHeap = Math.max(maxHeap, heap);
  console.log(
    `${first + r.cases} cases, ${Math.round((Date.now() - started) / 1000)} s, heap ${heap.toFixed(1)} MiB, max output/case ${r.maxOutput} B`,
  );
  if (r.failures.length > 0) {
    console.error(r.failures.join('\n'));
    process.exit(1);
  }
}
console.log(`ok: ${cases} cases without crash or hang; max heap ${maxHeap.toFixed(1)} MiB`);
