// The ftp:// Legacy source (nbdkit's curl plugin) against a real FTP server: ranged reads
// (REST + RETR) give the image's bytes; a wrong login and a missing file give their errnos.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startFtpServer, type FtpServer } from './helpers/ftp-server.js';
import { copyExport, randomImage, startProvider, type ProviderHarness } from './helpers/provider.js';

const USER = 'media';
const PASSWORD = 'ftp,pass=word';
const creds = (password: string) => ({ user: USER, password: new TextEncoder().encode(password) });
let dir: string;
let server: FtpServer;
let harness: ProviderHarness;
let imageSha: string;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vmedia-ftp-'));
  imageSha = await randomImage(path.join(dir, 'disk.img'), 8);
  server = await startFtpServer({
    files: new Map([['/pub/images/disk.img', path.join(dir, 'disk.img')]]),
    user: USER,
    password: PASSWORD,
  });
  // 1 MiB cache blocks: several ranged RETRs over the 8 MiB image
  harness = await startProvider({ sources: { Cache: { BlockSizeKiB: 1024 } } });
});

after(async () => {
  await harness?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('ftp:// with a login: nbdcopy gives the image bytes, read with REST ranges; nothing left', async () => {
  assert.ok(harness.provider.schemes().includes('ftp'));
  const { socket, source } = await harness.mount(`ftp://127.0.0.1:${server.port}/pub/images/disk.img`, {
    credentials: creds(PASSWORD),
  });
  assert.equal(await copyExport(socket, path.join(dir, 'copy.img')), imageSha);
  await source.stop();
  assert.ok(
    server.commands.some((c) => /^REST [1-9]/.test(c)),
    'ranged reads (REST with an offset)',
  );
  assert.ok(!harness.logText().includes(PASSWORD));
  harness.assertNothingLeft();
});

test('ftp:// wrong login → EACCES, missing file → ENOENT; nothing left', async () => {
  const denied = await harness.mountError(`ftp://127.0.0.1:${server.port}/pub/images/disk.img`, {
    credentials: creds('wrong'),
  });
  assert.equal(denied.errno, 'EACCES');
  const missing = await harness.mountError(`ftp://127.0.0.1:${server.port}/pub/nope.img`, {
    credentials: creds(PASSWORD),
  });
  assert.equal(missing.errno, 'ENOENT');
  harness.assertNothingLeft();
});
