// The data-path benchmarks of issue 15 (docs/performance.md), each against its reference in the
// same run:
//   npx tsx bench/paths/run.ts [A B legacy C D] [--size-mib 1024] [--rounds 3] [--against MAIN_MJS]
// --against (repeatable): another build (scripts/bundle.ts --out DIR; DIR/dist/cli/main.mjs)
// measured in the same run, rounds interleaved with this checkout's (path D: its runs apart vary
// too much to compare).
// Each path is a module of this folder that default-exports a PathBenchmark (measure.ts); add a
// path by adding its file to PATHS. Prints one markdown table (the one in docs/performance.md)
// and writes bench/out/paths.json.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatTable, type Measurement, type PathBenchmark } from './measure.js';

const PATHS: Record<string, string> = {
  A: './nbd-serve.ts',
  B: './export.ts',
  legacy: './readahead.ts',
  C: './bridge.ts',
  D: './browser.ts',
};

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'size-mib': { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '3' },
    against: { type: 'string', multiple: true },
  },
});
const against = (values.against ?? []).map((entry) => path.resolve(entry));
for (const entry of against) if (!existsSync(entry)) throw new Error(`--against ${entry}: no such file`);
const sizeMiB = Number(values['size-mib']);
const rounds = Number(values.rounds);
if (!(sizeMiB > 0) || !Number.isInteger(rounds) || rounds < 1) throw new Error('--size-mib > 0, --rounds >= 1');
const chosen = positionals.length > 0 ? positionals : Object.keys(PATHS);
const unknown = chosen.filter((p) => !(p in PATHS));
if (unknown.length > 0)
  throw new Error(`unknown path(s) ${unknown.join(', ')}; known: ${Object.keys(PATHS).join(' ')}`);

const results: Array<{ median: Measurement; range: string }> = [];
const titles: string[] = [];
const notes: string[] = [];
for (const name of chosen) {
  const bench = ((await import(PATHS[name]!)) as { default: PathBenchmark }).default;
  if (against.length > 0 && !bench.takesAgainst) throw new Error(`path ${name} does not take --against`);
  console.error(`path ${name}: ${bench.title}…`);
  titles.push(`${name}: ${bench.title}`);
  const dir = mkdtempSync(path.join(tmpdir(), `vmedia-bench-paths-${name}-`));
  try {
    const note = (line: string) => notes.push(`${name}: ${line}`);
    results.push(...(await bench.run({ dir, sizeMiB, rounds, note, against })));
  } finally {
    rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
  }
}
const machine = `${cpus().length} × ${cpus()[0]?.model ?? '?'}, load ${loadavg()
  .map((l) => l.toFixed(1))
  .join(' ')}, node ${process.version}`;
console.log(`\n${titles.join('\n')}\n${sizeMiB} MiB per transfer, median of ${rounds}; ${machine}\n`);
console.log(formatTable(results));
if (notes.length > 0) console.log(`\n${notes.join('\n')}`);
const out = path.join(import.meta.dirname, '../out');
mkdirSync(out, { recursive: true });
writeFileSync(path.join(out, 'paths.json'), JSON.stringify({ machine, sizeMiB, rounds, results, notes }, null, 2));
