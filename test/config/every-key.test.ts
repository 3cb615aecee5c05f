// Every key of the config schema is documented in docs/config.md, and a bad value for any of them
// is refused with its key path; the daemon reports it and exits 2 (no stack trace, no help text).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SLOT = 'Slot_0';

interface SchemaNode {
  type?: string;
  enum?: readonly unknown[];
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
}

/** Leaf keys of the schema as paths; a slot's keys appear under MountPoints.Slot_0. */
function leafKeys(node: SchemaNode, at: string[] = []): { path: string[]; schema: SchemaNode }[] {
  if (node.properties) {
    return Object.entries(node.properties).flatMap(([k, child]) => leafKeys(child, [...at, k]));
  }
  if (at.at(-1) === 'MountPoints' && typeof node.additionalProperties === 'object') {
    return leafKeys(node.additionalProperties, [...at, SLOT]);
  }
  return [{ path: at, schema: node }];
}

/** A value of the wrong kind for the key's schema. */
function badValueFor(schema: SchemaNode): unknown {
  if (schema.enum) return 'not-one-of-them';
  if (schema.type === 'string') return 42;
  return 'not-a-value-of-this-type';
}

const minimal = () => ({
  MountPoints: { [SLOT]: { EndpointId: '/nbd/0', Mode: 0, NBDDevice: 'nbd0', UnixSocket: 'nbd0.sock' } },
});

function withValue(keyPath: string[], value: unknown): Record<string, unknown> {
  const config: Record<string, unknown> = minimal();
  let at = config;
  for (const k of keyPath.slice(0, -1)) {
    at[k] ??= {};
    at = at[k] as Record<string, unknown>;
  }
  at[keyPath.at(-1)!] = value;
  return config;
}

const keys = leafKeys(configSchema);

test('the schema has the keys the docs list, and docs/config.md names every one', () => {
  assert.ok(keys.length >= 30, `only ${keys.length} keys found`);
  const docs = readFileSync(path.join(ROOT, 'docs/config.md'), 'utf8');
  const undocumented = keys
    .map((k) => k.path.filter((p) => p !== 'MountPoints' && p !== SLOT && p !== 'Sources').join('.'))
    .filter((name) => !docs.includes(`\`${name}\``));
  assert.deepEqual(undocumented, []);
});

test('a bad value for any key is refused with that key path', () => {
  for (const { path: keyPath, schema } of keys) {
    const where = keyPath.join('.');
    try {
      parseConfig(withValue(keyPath, badValueFor(schema)), '/etc', 'test.json');
      assert.fail(`${where}: a bad value was accepted`);
    } catch (err) {
      assert.ok(err instanceof ConfigError, `${where}: ${String(err)}`);
      assert.ok(
        err.problems.some((p) => p.startsWith(`${where}:`)),
        `${where}: the problems do not name it: ${err.problems.join(' | ')}`,
      );
    }
  }
});

function runDaemon(config: object): Promise<{ code: number | null; stderr: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-badcfg-'));
  const file = path.join(dir, 'virtual-media.json');
  writeFileSync(file, JSON.stringify(config));
  const main = path.join(ROOT, 'src/cli/main.ts');
  const args = ['--import', 'tsx', main, 'daemon', '--config', file, '--bus', `unix:path=${dir}/no-bus.sock`];
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT }, (err, _stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr });
    });
  });
}

for (const [what, config, keyPath] of [
  ['a schema error', withValue(['MountPoints', SLOT, 'Timeout'], 0), 'MountPoints.Slot_0.Timeout'],
  [
    'a Sources.Cache combination',
    withValue(['Sources', 'Cache'], { BlockSizeKiB: 4096, MaxSizeMiB: 4 }),
    'Sources.Cache.MaxSizeMiB',
  ],
] as const) {
  test(`vmedia daemon with ${what}: exit 2, the key path, no stack trace or help`, async () => {
    const { code, stderr } = await runDaemon(config);
    assert.equal(code, 2, stderr);
    assert.match(stderr, new RegExp(`^vmedia daemon: invalid config .*\\n\\s+${keyPath.replace(/\./g, '\\.')}:`, 'm'));
    assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
    assert.doesNotMatch(stderr, /Options:/, 'no help text');
  });
}
