// smb:// and nfs:// Legacy sources end to end in the VM (kernel CIFS/NFS mounts need modules and
// root): real smbd and kernel nfsd on 127.0.0.1, the real source provider, nbdcopy reading the
// slot socket. Proves: SMB 3.1.1 with encryption, credentials with commas and '=' kept out of
// argv/environ, NFS read-only, each failure's errno, and no mount, file or process left behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { requireVm, vmTempDir } from './helpers/vm.js';
import { startShareServers, type ShareServers } from '../sources/helpers/share-servers.js';
import {
  copyExport,
  procFilesContaining,
  randomImage,
  run,
  sha256File,
  startProvider,
  type ProviderHarness,
} from '../sources/helpers/provider.js';

requireVm();

const USER = 'vmtest';
const PASSWORD = 'pa,ss=word "x" y';
const creds = (password: string) => ({ user: USER, password: new TextEncoder().encode(password) });
let dir: string;
let servers: ShareServers;
let harness: ProviderHarness;
let imageSha: string;

before(async () => {
  dir = vmTempDir('vmedia-shares');
  servers = await startShareServers(path.join(dir, 'srv'), USER, PASSWORD);
  mkdirSync(path.join(servers.smbDir, 'iso dir'));
  imageSha = await randomImage(path.join(servers.smbDir, 'iso dir', 'disk.img'), 8);
  await run('cp', [path.join(servers.smbDir, 'iso dir', 'disk.img'), path.join(servers.nfsDir, 'disk.img')]);
  harness = await startProvider({ slotTimeout: 90 }); // TCG: a first SMB mount takes ~20 s
  assert.deepEqual(
    harness.provider.schemes().filter((s) => s === 'smb' || s === 'nfs'),
    ['smb', 'nfs'],
  );
});

after(async () => {
  await harness?.close();
  await servers?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function kernelMountsUnder(root: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[1]?.startsWith(root));
}

function assertNothingLeft(): void {
  harness.assertNothingLeft();
  assert.deepEqual(kernelMountsUnder(harness.dir), [], 'kernel mount left behind');
}

test('smb:// with credentials: SMB 3.1.1 sealed read-only mount, right bytes, password in no argv/environ, nothing left', async () => {
  const { socket, source } = await harness
    .mount('smb://127.0.0.1/images/iso%20dir/disk.img', { credentials: creds(PASSWORD) })
    .catch(async (err: Error) => {
      const dmesg = await run('dmesg', []);
      throw new Error(`${err.message}\nkernel log:\n${dmesg.stdout.split('\n').slice(-25).join('\n')}`);
    });
  const [line] = kernelMountsUnder(harness.dir);
  assert.ok(line, 'the share is mounted under the runtime dir');
  assert.match(line, / cifs ro,/);
  assert.match(line, /vers=3\.1\.1/);
  assert.match(line, /,seal/);
  assert.deepEqual(procFilesContaining(PASSWORD), [], 'password in argv or environ');
  assert.ok(
    !readdirSync(path.join(harness.config.runtimeDir, 'sources')).some((f) => f.endsWith('.cred')),
    'credentials file removed',
  );
  assert.equal(await copyExport(socket, path.join(dir, 'smb.out')), imageSha);
  await source.stop();
  assert.ok(!harness.logText().includes(PASSWORD));
  assertNothingLeft();
});

test('smb:// failures: wrong password → EACCES, missing file → ENOENT; nothing left', async () => {
  const denied = await harness.mountError('smb://127.0.0.1/images/iso%20dir/disk.img', { credentials: creds('wrong') });
  assert.equal(denied.errno, 'EACCES');
  assertNothingLeft();
  const missing = await harness.mountError('smb://127.0.0.1/images/nope.img', { credentials: creds(PASSWORD) });
  assert.equal(missing.errno, 'ENOENT');
  assertNothingLeft();
});

test('nfs:// read-only mount: right bytes; a writable Mount writes to an overlay, the export is unchanged; nothing left', async () => {
  const url = `nfs://127.0.0.1${servers.nfsDir}/disk.img`;
  const { socket, source } = await harness.mount(url);
  assert.match(kernelMountsUnder(harness.dir)[0] ?? '', / nfs4? ro,/);
  assert.equal(await copyExport(socket, path.join(dir, 'nfs.out')), imageSha);
  await source.stop();
  assertNothingLeft();

  const rw = await harness.mount(url, { writable: true });
  const r = await run('/usr/bin/nbdsh', [
    '-u',
    `nbd+unix:///?socket=${rw.socket}`,
    '-c',
    "h.pwrite(b'x' * 512, 0); assert h.pread(512, 0) == b'x' * 512",
  ]);
  assert.equal(r.code, 0, r.stderr);
  await rw.source.stop();
  assert.equal(await sha256File(path.join(servers.nfsDir, 'disk.img')), imageSha);
  assertNothingLeft();
});
