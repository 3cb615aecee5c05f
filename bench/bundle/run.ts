// Size of the production bundle (a script, not a test):
//   npx tsx bench/bundle/run.ts [--out DIR]
// Builds it (scripts/bundle.ts; into a temp dir unless --out) and prints the total on disk
// against the 5 MiB target (Node itself excluded), then what each process loads: the dispatcher
// main.mjs with the chunks it imports, plus its command's chunk and the chunks that one imports.
// "lazy" is what a command may import later (the daemon loads one host backend of two).
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Metafile } from 'esbuild';
import { buildBundle } from '../../scripts/bundle.js';

const TARGET_BYTES = 5 * 1024 * 1024;
const { values } = parseArgs({ options: { out: { type: 'string' } } });
const outDir = values.out ?? mkdtempSync(path.join(tmpdir(), 'vmedia-bench-bundle-'));

const bundle = await buildBundle({ outDir });
const outputs = bundle.metafile.outputs;

function bytesUnder(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) total += statSync(path.join(entry.parentPath, entry.name)).size;
  return total;
}

/** The output files `from` loads at once: itself and its static imports, transitively. */
function staticClosure(from: string, into = new Set<string>()): Set<string> {
  if (into.has(from)) return into;
  into.add(from);
  for (const imp of outputs[from]!.imports)
    if (imp.kind === 'import-statement' && !imp.external) staticClosure(imp.path, into);
  return into;
}

const outputOf = (entryPoint: string) => Object.keys(outputs).find((o) => outputs[o]!.entryPoint === entryPoint);
const sum = (files: Iterable<string>) => [...files].reduce((n, f) => n + outputs[f]!.bytes, 0);
const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

const main = outputOf('src/cli/main.ts');
if (!main) throw new Error('no output for src/cli/main.ts in the metafile');
const dispatcher = staticClosure(main);
/** The command chunks: main.mjs's dynamic imports. */
const commands = outputs[main]!.imports.filter((i) => i.kind === 'dynamic-import' && !i.external).map((i) => i.path);

const rows: [string, number, string][] = [['dispatcher (main.mjs, --help)', sum(dispatcher), '']];
for (const chunk of commands) {
  const loads = staticClosure(chunk, new Set(dispatcher));
  const lazy = new Set<string>();
  for (const file of loads)
    for (const imp of (outputs[file] as Metafile['outputs'][string]).imports)
      if (imp.kind === 'dynamic-import' && !imp.external && !commands.includes(imp.path) && !loads.has(imp.path))
        staticClosure(imp.path, lazy);
  for (const file of loads) lazy.delete(file);
  const name = path.basename(outputs[chunk]!.entryPoint ?? chunk, '.ts');
  rows.push([`vmedia ${name}`, sum(loads), lazy.size ? `+ ${kib(sum(lazy))} lazy` : '']);
}

const total = bytesUnder(bundle.outDir);
const part = (sub: string) => bytesUnder(path.join(bundle.outDir, sub));
process.stdout.write(
  [
    `bundle ${bundle.outDir}`,
    `total on disk: ${(total / 1024 / 1024).toFixed(2)} MiB (${total} bytes), target <= 5 MiB: ${total <= TARGET_BYTES ? 'met' : 'MISSED'}`,
    `  JS chunks ${kib(sum(Object.keys(outputs)))}, page ${kib(part('dist/web/static'))}, usocket ${kib(part('node_modules/usocket'))}, bufferutil ${kib(part('node_modules/bufferutil'))}, config ${kib(part('config'))}`,
    'per process (JS it loads at start; the addon packages and Node excluded):',
    ...rows.map(([name, bytes, lazy]) => `  ${name.padEnd(32)} ${kib(bytes).padStart(9)} ${lazy}`),
    '',
  ].join('\n'),
);
if (!values.out) rmSync(outDir, { recursive: true, force: true });
