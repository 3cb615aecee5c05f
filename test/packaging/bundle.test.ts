// The production bundle (scripts/bundle.ts) works on its own: built into a temp dir with no
// node_modules above it, it runs every command's --help, ships no dependency but its addon packages, and a
// representative part of the integration suite passes against it (VMEDIA_TEST_ENTRY makes
// test/helpers/daemon.ts and stack.ts start the bundle): D-Bus Proxy and Legacy mounts with fd
// passing (usocket's addon), the daemon's shutdown, the Redfish trust store and a Legacy
// insert/eject with credentials (nbdkit), and the WebSocket NBD bridge (a Proxy mount).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildBundle, CLI_ENTRY, type Bundle } from '../../scripts/bundle.js';
import { parseBitbake, runTask } from './bitbake.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');

/** Test files of the integration suite and the tests of each that run against the bundle. */
const SUBSET: Record<string, string[]> = {
  'test/daemon/dbus-api.test.ts': [
    'Proxy Mount end to end',
    'Legacy Mount reads the credentials pipe',
    'SIGTERM ejects mounted media',
  ],
  'test/web/redfish-media.test.ts': [
    "advertises exactly the daemon's Sources.Schemes",
    // adds the CA the insert below needs (the tests of this file run in order)
    'manages the Truststore',
    'inserts an HTTPS image with credentials',
  ],
  'test/web/bridge.test.ts': ['serves the 256 MiB image through /nbd/0'],
  // the gateway on its embedded SQLite (better-sqlite3's addon beside the chunks)
  'test/gateway/api.test.ts': ['stores an upload whose sha256 matches the claim'],
};

let dir: string;
let bundle: Bundle;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vmedia-bundle-'));
  bundle = await buildBundle({ outDir: path.join(dir, 'vmedia') });
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('the bundle stands alone: no dependencies, the addons and the page beside it, every command answers --help', async () => {
  const pkg = JSON.parse(readFileSync(path.join(bundle.outDir, 'package.json'), 'utf8'));
  assert.equal(pkg.dependencies, undefined);
  assert.equal(pkg.devDependencies, undefined);
  for (const file of [
    'node_modules/usocket/uwrap.node',
    'node_modules/bufferutil/bufferutil.node',
    'node_modules/sockopt/sockopt.node',
    'node_modules/better-sqlite3/better_sqlite3.node',
    'dist/web/static/index.html',
  ])
    assert.ok(existsSync(path.join(bundle.outDir, file)), file);
  // the addon packages load from beside the chunks, as the code requires them (by name)
  const { stdout: loaded } = await run(process.execPath, [
    '--input-type=module',
    '-e',
    `const require = (await import('node:module')).createRequire(${JSON.stringify(bundle.entry)});
     console.log(typeof require('usocket').USocket, typeof require('bufferutil').unmask,
       typeof require('sockopt').setsockopt, new (require('better-sqlite3'))(':memory:').prepare('select 6 * 7 as n').get().n);`,
  ]);
  assert.equal(loaded.trim(), 'function function function 42');
  const { stdout } = await run(process.execPath, [bundle.entry, '--help']);
  const commands = [...stdout.matchAll(/^ {2}vmedia (\S+)/gm)].map((m) => m[1]!);
  assert.ok(commands.includes('daemon') && commands.includes('web'), stdout);
  await Promise.all(
    commands.map(async (command) => {
      const help = await run(process.execPath, [bundle.entry, command, '--help']);
      assert.match(help.stdout, new RegExp(`vmedia ${command}`), `${command} --help`);
    }),
  );
});

test('the integration subset passes against the bundle', { timeout: 300_000 }, async () => {
  const files = Object.keys(SUBSET);
  const patterns = Object.values(SUBSET).flat();
  // a node:test child that sees its parent's context would not run its files
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const result = await run(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-concurrency=1',
      '--test-reporter=tap',
      ...patterns.map((p) => `--test-name-pattern=${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
      ...files,
    ],
    { cwd: ROOT, env: { ...env, VMEDIA_TEST_ENTRY: bundle.entry }, maxBuffer: 64 * 1024 * 1024 },
  ).then(
    (r) => ({ ok: true, output: r.stdout + r.stderr }),
    (err: { stdout?: string; stderr?: string }) => ({ ok: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}` }),
  );
  const passed = [...result.output.matchAll(/^\s*ok \d+ - (.*)$/gm)].map((m) => m[1]!);
  // every chosen test ran and passed (a renamed test must be renamed here too)
  for (const name of patterns)
    assert.ok(
      passed.some((p) => p.includes(name)),
      `"${name}" did not pass against the bundle:\n${result.output.slice(-6000)}`,
    );
  assert.ok(result.ok, result.output.slice(-6000));
});

test("the Yocto recipe's do_install finds every file it installs, in the bundle and the repository", async () => {
  const layer = path.join(ROOT, 'yocto');
  const files = ['vmedia_git.bb', 'vmedia.inc'].map((f) =>
    parseBitbake(readFileSync(path.join(layer, f), 'utf8'), `yocto/${f}`),
  );
  const image = path.join(dir, 'image');
  // B: the recipe's build dir, where do_compile leaves the bundle in bundle/
  await runTask(files, 'do_install', { D: image, S: ROOT, B: path.dirname(bundle.outDir) + '/b', WORKDIR: dir }).then(
    () => assert.fail('do_install succeeded without a bundle in ${B}/bundle'),
    () => undefined,
  );
  await run('mkdir', ['-p', path.join(dir, 'b')]);
  await run('cp', ['-R', bundle.outDir, path.join(dir, 'b', 'bundle')]);
  await runTask(files, 'do_install', { D: image, S: ROOT, B: path.join(dir, 'b'), WORKDIR: dir });
  for (const file of [
    `usr/lib/vmedia/${CLI_ENTRY}`,
    'usr/lib/vmedia/node_modules/usocket/uwrap.node',
    'usr/lib/vmedia/node_modules/bufferutil/bufferutil.node',
    'usr/lib/vmedia/node_modules/sockopt/sockopt.node',
    'usr/lib/vmedia/dist/web/static/index.html',
    'usr/lib/systemd/system/xyz.openbmc_project.VirtualMedia.service',
    'usr/lib/systemd/system/vmedia-web.service',
    'usr/share/dbus-1/system.d/xyz.openbmc_project.VirtualMedia.conf',
    'usr/lib/tmpfiles.d/vmedia.conf',
    'usr/lib/sysusers.d/vmedia.conf',
    'usr/lib/sysctl.d/50-vmedia.conf',
    'etc/virtual-media.json',
  ])
    assert.ok(existsSync(path.join(image, file)), file);
  assert.equal(readlinkSync(path.join(image, 'usr/bin/vmedia')), `../lib/vmedia/${CLI_ENTRY}`);
  // the installed command runs from the image tree as it would on the BMC
  const { stdout } = await run(process.execPath, [path.join(image, 'usr/bin/vmedia'), '--version']);
  assert.equal(stdout.trim(), JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
});
