// An nbdkit without the curl plugin (as some BMC builds have) nor the ssh plugin (OpenBMC's nbdkit
// is built without libssh): the provider says so in the log, does not offer http(s)/ftp nor sftp,
// and a Mount of such a URL ends in EINVAL naming the reason.
import type { ProviderHarness } from './helpers/provider.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-nocurl-'));
const fake = path.join(dir, 'nbdkit');
// the real nbdkit, except that loading the curl or ssh plugin fails the way a missing .so does
writeFileSync(
  fake,
  `#!/bin/sh
for a in "$@"; do
  case "$a" in curl|ssh) echo "nbdkit: error: cannot open plugin \\"$a\\": nbdkit-$a-plugin.so: cannot open shared object file" >&2; exit 1;; esac
done
exec nbdkit "$@"
`,
);
chmodSync(fake, 0o755);
process.env.VMEDIA_NBDKIT = fake; // read when the modules load, hence the dynamic import below

let harness: ProviderHarness;

before(async () => {
  const { startProvider } = await import('./helpers/provider.js');
  harness = await startProvider();
});

after(async () => {
  await harness?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('no curl plugin: not advertised, said in the log, Mount of https → EINVAL with the reason', async () => {
  const schemes = harness.provider.schemes();
  for (const s of ['https', 'http', 'ftp']) assert.ok(!schemes.includes(s), `${s} offered`);
  assert.match(harness.logText(), /nbdkit plugin \\"curl\\" does not load/);
  const err = await harness.mountError('https://192.0.2.1/image.iso');
  assert.equal(err.errno, 'EINVAL');
  assert.match(err.message, /https:\/\/ sources are unavailable: the installed nbdkit has no curl plugin/);
  harness.assertNothingLeft();
});

test('no ssh plugin: sftp is not advertised, said in the log, Mount of sftp → EINVAL with the reason', async () => {
  assert.ok(!harness.provider.schemes().includes('sftp'), 'sftp offered');
  assert.match(harness.logText(), /nbdkit plugin \\"ssh\\" does not load/);
  const err = await harness.mountError('sftp://user@192.0.2.1/image.iso');
  assert.equal(err.errno, 'EINVAL');
  assert.match(err.message, /sftp:\/\/ sources are unavailable: the installed nbdkit has no ssh plugin/);
  harness.assertNothingLeft();
});
