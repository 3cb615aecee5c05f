// The sftp:// Legacy source (nbdkit's ssh plugin) against a real OpenSSH sshd with password logins:
// what nbdcopy reads from the slot socket, URL forms (user in the URL, IPv6, %-encoding, ~),
// host key verification (unknown, changed, no known_hosts file), each failure's errno, a writable
// mount's overlay, and that nothing is left behind on any path.
import { test, before, after } from 'node:test';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSshd, type Sshd } from './helpers/sshd.js';
import { takeSftpUrlUser } from '../../src/sources/guards/source-url.js';
import { classifySshFailure } from '../../src/sources/schemes/ssh-errors.js';
import { parseConfig } from '../../src/config/load.js';
import {
  copyExport,
  procFilesContaining,
  randomImage,
  run,
  sha256File,
  startProvider,
  type ProviderHarness,
} from './helpers/provider.js';

const USER = 'vmedia-sftp';
const PASSWORD = 'S3cr,et=pa ss"\'word';
const creds = (user: string, password: string) => ({ user, password: new TextEncoder().encode(password) });
let dir: string;
let home: string;
let knownHosts: string;
let sshd: Sshd;
let harness: ProviderHarness;
let imageSha: string;
let image: string;
let base: string;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vmedia-sftp-'));
  chmodSync(dir, 0o755); // the test user (not root) reads the images below
  home = path.join(dir, 'home');
  mkdirSync(path.join(home, 'media files'), { recursive: true });
  image = path.join(home, 'disk.img');
  imageSha = await randomImage(image, 8);
  copyFileSync(image, path.join(home, 'media files', 'ü #1.iso'));
  sshd = await startSshd({ dir: path.join(dir, 'sshd'), user: USER, password: PASSWORD, home });
  base = `sftp://${USER}@127.0.0.1:${sshd.port}`;
  knownHosts = path.join(dir, 'known_hosts');
  trustServer();
  harness = await startProvider({ sources: { SshKnownHosts: knownHosts } });
});

after(async () => {
  await harness?.close();
  await sshd?.close();
  rmSync(dir, { recursive: true, force: true });
});

function trustServer(): void {
  writeFileSync(knownHosts, `${sshd.knownHostsLine('127.0.0.1')}\n${sshd.knownHostsLine('::1')}\n`);
}

test('sftp:// with a password: nbdcopy gives the image bytes; the password is nowhere visible; nothing left', async () => {
  assert.ok(harness.provider.schemes().includes('sftp'));
  const { socket, source } = await harness.mount(`${base}${image}`, { credentials: creds(USER, PASSWORD) });
  const leaks = procFilesContaining(PASSWORD);
  assert.deepEqual(leaks, [], `password visible in ${leaks.join(', ')}`);
  assert.equal(await copyExport(socket, path.join(dir, 'copy.img')), imageSha);
  await source.stop();
  await source.stop(); // idempotent
  assert.match(sshd.log(), new RegExp(`Accepted password for ${USER} from 127\\.0\\.0\\.1`));
  assert.ok(!harness.logText().includes(PASSWORD), 'password in the log');
  harness.assertNothingLeft();
});

test('URL forms: IPv6 literal, user only in the credentials, %-encoded path, /~/ for the home directory', async () => {
  const v6 = await harness.mount(`sftp://[::1]:${sshd.port}${home}/media%20files/%C3%BC%20%231.iso`, {
    credentials: creds(USER, PASSWORD),
  });
  assert.equal(await copyExport(v6.socket, path.join(dir, 'v6.img')), imageSha);
  await v6.source.stop();
  assert.match(sshd.log(), new RegExp(`Accepted password for ${USER} from ::1`));
  const tilde = await harness.mount(`${base}/~/disk.img`, { credentials: creds('', PASSWORD) });
  assert.equal(await copyExport(tilde.socket, path.join(dir, 'tilde.img')), imageSha);
  await tilde.source.stop();
  harness.assertNothingLeft();
});

test('host key verification: unknown key, changed key and a missing known_hosts file → EKEYREJECTED naming the cause', async () => {
  const url = `${base}${image}`;
  const login = { credentials: creds(USER, PASSWORD) };
  try {
    writeFileSync(knownHosts, `${sshd.knownHostsLine('::1')}\n`); // the key, but for another address
    const unknown = await harness.mountError(url, login);
    assert.equal(unknown.errno, 'EKEYREJECTED');
    assert.match(unknown.message, /host key is not in .*known_hosts/);

    const otherKey = path.join(dir, 'other_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    const other = readFileSync(`${otherKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${other}\n`);
    const changed = await harness.mountError(url, login);
    assert.equal(changed.errno, 'EKEYREJECTED');
    assert.match(changed.message, /differs/);

    rmSync(knownHosts);
    const missing = await harness.mountError(url, login);
    assert.equal(missing.errno, 'EKEYREJECTED');
    assert.match(missing.message, /known_hosts file .* is missing/);
  } finally {
    trustServer();
  }
  harness.assertNothingLeft();
});

test('wrong or no password → EACCES; missing file → ENOENT; unreadable file → EPERM; closed port → ECONNREFUSED', async () => {
  const wrong = await harness.mountError(`${base}${image}`, { credentials: creds(USER, 'wrong') });
  assert.equal(wrong.errno, 'EACCES');
  assert.match(sshd.log(), new RegExp(`Failed password for ${USER}`));
  const none = await harness.mountError(`${base}${image}`);
  assert.equal(none.errno, 'EACCES');

  const missing = await harness.mountError(`${base}${home}/nope.img`, { credentials: creds(USER, PASSWORD) });
  assert.equal(missing.errno, 'ENOENT');
  assert.match(missing.message, /does not exist on the SFTP server/);
  const secret = path.join(home, 'secret.img');
  writeFileSync(secret, 'root only', { mode: 0o600 });
  const denied = await harness.mountError(`${base}${secret}`, { credentials: creds(USER, PASSWORD) });
  assert.equal(denied.errno, 'EPERM');

  const closed = await harness.mountError(`sftp://${USER}@127.0.0.1:1${image}`, { credentials: creds(USER, PASSWORD) });
  assert.equal(closed.errno, 'ECONNREFUSED');
  harness.assertNothingLeft();
});

test('bad requests → EINVAL before anything starts: users that differ, no user, password in the URL, query string', async () => {
  for (const [url, c, why] of [
    [`${base}${image}`, creds('mallory', PASSWORD), /differ/],
    [`sftp://127.0.0.1:${sshd.port}${image}`, undefined, /needs a user name/],
    [`sftp://${USER}:pw@127.0.0.1:${sshd.port}${image}`, undefined, /must not contain credentials/],
    [`${base}${image}?x=1`, creds(USER, PASSWORD), /no query/],
    [`${base}${home}/`, creds(USER, PASSWORD), /names no file|directory/],
  ] as const) {
    const err = await harness.mountError(url, c ? { credentials: c } : {});
    assert.equal(err.errno, 'EINVAL', url);
    assert.match(err.message, why, url);
  }
  harness.assertNothingLeft();
});

test('the server drops every connection while serving: the retry filter reconnects and the bytes stay right', async () => {
  const { socket, source, exits } = await harness.mount(`${base}${image}`, { credentials: creds(USER, PASSWORD) });
  const accepted = () => sshd.log().match(/Accepted password/g)?.length ?? 0;
  const logins = accepted();
  assert.ok(sshd.dropConnections() > 0, 'no connection to drop');
  assert.equal(await copyExport(socket, path.join(dir, 'retried.img')), imageSha);
  assert.match(harness.logText(), /read failed.*"errno":"ECONNRESET"/, 'the dropped connection failed a read');
  assert.ok(accepted() > logins, 'nbdkit logged in again');
  assert.deepEqual(exits, [], 'the source kept running');
  await source.stop();
  harness.assertNothingLeft();
});

test('a writable mount writes into an overlay: the host reads its write back, the file on the server is unchanged', async () => {
  const { socket, source } = await harness.mount(`${base}${image}`, {
    writable: true,
    credentials: creds(USER, PASSWORD),
  });
  const uri = `nbd+unix:///?socket=${socket}`;
  const r = await run('nbdsh', [
    '-u',
    uri,
    '-c',
    'h.pwrite(b"\\xa5" * 4096, 8192); assert h.pread(4096, 8192) == b"\\xa5" * 4096; print("ok")',
  ]);
  assert.equal(r.stdout.trim(), 'ok', r.stderr);
  await source.stop();
  assert.equal(await sha256File(image), imageSha);
  harness.assertNothingLeft();
});

test('takeSftpUrlUser: the login comes out of sftp:// URLs only; a password stays in for the URL check to refuse', () => {
  assert.deepEqual(takeSftpUrlUser('sftp://bob@[fd00::1]:2222/a.iso'), {
    text: 'sftp://[fd00::1]:2222/a.iso',
    user: 'bob',
  });
  assert.deepEqual(takeSftpUrlUser('SFTP://john%40corp@h/x@y.iso'), { text: 'SFTP://h/x@y.iso', user: 'john@corp' });
  assert.deepEqual(takeSftpUrlUser('sftp://@h/a.iso'), { text: 'sftp://h/a.iso' });
  for (const same of ['sftp://bob:pw@h/a.iso', 'https://bob@h/a.iso', 'sftp://h/p@q.iso'])
    assert.deepEqual(takeSftpUrlUser(same), { text: same });
  for (const bad of ['sftp://%ZZ@h/a', 'sftp://a%0Ab@h/a'])
    assert.throws(() => takeSftpUrlUser(bad), /EINVAL|user name/);
});

test('classifySshFailure: causes a loopback test cannot produce get their errnos; unknown text → undefined', () => {
  const ctx = { knownHosts: '/k' };
  for (const [line, errno] of [
    [
      'failed to connect to remote host: nas.example: Failed to resolve hostname nas.example (Name or service not known)',
      'EHOSTUNREACH',
    ],
    ['failed to connect to remote host: 10.1.1.1: No route to host', 'EHOSTUNREACH'],
    ['failed to connect to remote host: 10.1.1.1: Timeout connecting to 10.1.1.1', 'ETIMEDOUT'],
    ['host key for server was not found but another type of key exists', 'EKEYREJECTED'],
    ['failed to initialize sftp session: subsystem request failed', 'EPROTO'],
    ['read failed: Socket error: disconnected (-1)', 'ECONNRESET'],
  ] as const) {
    assert.equal(
      classifySshFailure(`nbdkit: ssh[1]: debug: x\nnbdkit: ssh[1]: error: ${line}\n`, ctx)?.errno,
      errno,
      line,
    );
  }
  assert.equal(classifySshFailure('nbdkit: ssh[1]: error: something new\n', ctx), undefined);
});

test('config: Sources.SshKnownHosts defaults to the system file; a relative path or a libssh %-sequence is refused by name', () => {
  const slots = { MountPoints: { Slot_0: { Mode: 1, NBDDevice: 'nbd0', UnixSocket: '/run/s.sock' } } };
  assert.equal(parseConfig(slots, '/etc', 'x.json').sources.sshKnownHosts, '/etc/ssh/ssh_known_hosts');
  assert.equal(
    parseConfig({ ...slots, Sources: { SshKnownHosts: '/etc/vmedia/known_hosts' } }, '/etc', 'x.json').sources
      .sshKnownHosts,
    '/etc/vmedia/known_hosts',
  );
  for (const bad of ['known_hosts', '/home/%u/.ssh/known_hosts']) {
    assert.throws(
      () => parseConfig({ ...slots, Sources: { SshKnownHosts: bad } }, '/etc', 'x.json'),
      /Sources\.SshKnownHosts: must match pattern/,
      bad,
    );
  }
});
