// src/nbd runs in browsers too: it must bundle for the browser with no Node import at all, and
// typecheck with neither DOM nor Node type libraries.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { build } from 'esbuild';
import { repoRoot, run } from './helpers.js';

const nbdDir = path.join(repoRoot, 'src/nbd');

test('every file of src/nbd bundles for the browser without Node imports', async () => {
  const entries = readdirSync(nbdDir)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(nbdDir, f));
  assert.ok(entries.length >= 10, `expected the protocol files, found ${entries.length}`);
  const imported: string[] = [];
  const result = await build({
    entryPoints: entries,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    absWorkingDir: repoRoot,
    outdir: '/nonexistent', // write: false keeps the output in memory
    logLevel: 'silent',
    metafile: true,
    plugins: [
      {
        name: 'no-node',
        setup(b) {
          b.onResolve({ filter: /.*/ }, (args) => {
            if (args.kind === 'entry-point') return undefined;
            imported.push(args.path);
            // anything but a relative import inside src/nbd is recorded and kept out of the bundle
            return args.path.startsWith('.') ? undefined : { path: args.path, external: true };
          });
        },
      },
    ],
  });
  assert.deepEqual(result.errors, []);
  const external = imported.filter((p) => !p.startsWith('.'));
  assert.deepEqual(external, [], `src/nbd imports outside itself: ${external.join(', ')}`);
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(
    inputs.every((p) => p.startsWith('src/nbd/')),
    `bundle pulled in ${inputs.filter((p) => !p.startsWith('src/nbd/')).join(', ')}`,
  );
  const code = result.outputFiles.map((f) => f.text).join('\n');
  assert.doesNotMatch(code, /\bBuffer\.|\brequire\(|process\./, 'Node globals in the browser bundle');
});

test('src/nbd typechecks with no DOM and no Node types', async () => {
  await run(
    process.execPath,
    [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', path.join(nbdDir, 'tsconfig.json')],
    { cwd: repoRoot },
  );
});
