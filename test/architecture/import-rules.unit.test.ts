// The layering of docs/architecture.md, enforced: data flows one way (Redfish → D-Bus → mount
// point → source / host backend), the web reaches the daemon only over D-Bus, src/nbd stays
// isomorphic, and nothing imports the CLI. Each folder of src/ lists the folders it may import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const SRC = path.resolve(import.meta.dirname, '../../src');

/** Top-level files shared by every layer. */
const SHARED_FILES = new Set(['contract.ts', 'errno.ts', 'log.ts']);

const ALLOWED: Record<string, string[]> = {
  nbd: [],
  process: [], // the one child-process runner, for every Node layer
  net: [], // Node socket helpers for the layers that move bytes (NBD adapters, the web's bridge)
  'nbd-node': ['nbd', 'net'],
  browser: ['nbd'],
  config: ['sources'], // the Sources block's schema lives with the sources
  sources: ['config', 'nbd', 'nbd-node', 'process'],
  host: ['config', 'nbd', 'nbd-node', 'process'],
  mountpoint: ['config', 'host', 'sources'],
  dbus: ['process'],
  daemon: ['config', 'dbus', 'generated-media', 'host', 'mountpoint', 'sources'],
  web: ['dbus', 'net', 'process'],
  'generated-media': [], // builds first-boot images from JSON; the daemon serves them
  'virtual-host': ['config', 'dbus', 'process'], // a QEMU VM behind the OpenBMC power and boot objects
  // the bastion in front of many BMCs: reaches them over Redfish only, never through the daemon
  gateway: ['generated-media', 'nbd', 'process', 'sources', 'web'],
  cli: ['config', 'daemon', 'dbus', 'gateway', 'nbd', 'nbd-node', 'process', 'virtual-host', 'web'],
};

/** Within a layer it may import, the only parts a layer may import (path prefixes under src/). */
const ONLY_PARTS: Record<string, string[]> = {
  gateway: ['web/auth/', 'web/tls.js', 'web/page-policy.js', 'sources/guards/', 'generated-media/index.js'],
};

/** Folders whose modules a layer may import only as types (`import type`). */
const TYPE_ONLY: Record<string, string[]> = {
  mountpoint: ['host', 'sources'],
};

interface Import {
  from: string;
  target: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const found: Import[] = [];
  const re =
    /(import\s+type\b[^'"]*?from\s*|import\s[^'"]*?from\s*|export\s[^'"]*?from\s*|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const m of text.matchAll(re)) {
    const target = path.relative(SRC, path.resolve(path.dirname(file), m[2]!));
    found.push({ from: path.relative(SRC, file), target, typeOnly: /^import\s+type\b/.test(m[1]!) });
  }
  return found;
}

const layerOf = (rel: string) => rel.split(path.sep)[0]!;
const isSharedFile = (rel: string) => !rel.includes(path.sep) && SHARED_FILES.has(rel.replace(/\.js$/, '.ts'));

const imports = sourceFiles(SRC).flatMap(importsOf);

test('the import scan sees the codebase', () => {
  // guards against a regex that silently matches nothing
  assert.ok(imports.length > 200, `only ${imports.length} relative imports found`);
  assert.ok(imports.some((i) => i.from.startsWith('daemon') && layerOf(i.target) === 'mountpoint'));
});

test('every folder of src/ imports only the layers below it', () => {
  const layers = new Set(
    readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name),
  );
  assert.deepEqual([...layers].sort(), Object.keys(ALLOWED).sort(), 'a new folder needs its rule here');
  const violations = imports.filter((i) => {
    const from = layerOf(i.from);
    const to = layerOf(i.target);
    if (to === from || isSharedFile(i.target)) return false;
    if (from === 'nbd' && to !== 'nbd') return true; // isomorphic: not even errno/log
    return !ALLOWED[from]?.includes(to);
  });
  assert.deepEqual(
    violations.map((v) => `${v.from} → ${v.target}`),
    [],
  );
});

test('the gateway imports only the web auth, TLS identity and page policy, the sources guards and the generator', () => {
  const violations = imports.filter((i) => {
    const parts = ONLY_PARTS[layerOf(i.from)];
    const to = layerOf(i.target);
    if (!parts || to === layerOf(i.from) || isSharedFile(i.target) || to === 'nbd' || to === 'process') return false;
    return !parts.some((p) => i.target.split(path.sep).join('/').startsWith(p));
  });
  assert.deepEqual(
    violations.map((v) => `${v.from} → ${v.target}`),
    [],
  );
});

test('the mount point sees host backends and sources only through their interfaces', () => {
  const violations = imports.filter(
    (i) => TYPE_ONLY[layerOf(i.from)]?.includes(layerOf(i.target)) && !i.typeOnly && !i.target.endsWith('types.js'),
  );
  assert.deepEqual(
    violations.map((v) => `${v.from} → ${v.target}`),
    [],
  );
});

test('src/nbd uses no Node or DOM module', () => {
  const nodeImports = sourceFiles(path.join(SRC, 'nbd')).filter((f) =>
    /from\s+['"]node:/.test(readFileSync(f, 'utf8')),
  );
  assert.deepEqual(nodeImports, []);
});

test('every child process goes through src/process/runner.ts', () => {
  const direct = sourceFiles(SRC)
    .filter((f) => !f.endsWith(path.join('process', 'runner.ts')))
    .filter((f) => /from\s+['"](node:)?child_process['"]|from\s+['"]execa['"]/.test(readFileSync(f, 'utf8')))
    .map((f) => path.relative(SRC, f));
  assert.deepEqual(direct, []);
});
