// The HTTPS/HTTP Legacy source against a real local HTTPS server (a CA made by openssl for this
// run, Range support): what nbdcopy reads from the slot socket, each failure's errno, the
// filters (retry, xz/gzip, copy-on-write), and that nothing is left behind on any path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startHttpsImages } from '../helpers/https-images.js';
import { createTestCa, type TestCa } from './helpers/test-ca.js';
import { startImageServer, type ImageServer } from './helpers/image-server.js';
import {
  copyExport,
  nbdkitProcessesUnder,
  procFilesContaining,
  randomImage,
  run,
  sha256File,
  startProvider,
  type ProviderHarness,
} from './helpers/provider.js';

const IMAGE_MIB = 32;
let dir: string;
let ca: TestCa;
let server: ImageServer;
let harness: ProviderHarness;
let imageSha: string;
let disk: string;
const creds = (user: string, password: string) => ({ user, password: new TextEncoder().encode(password) });
const DEEP = '/v1/AUTH_test/media%20files/ubuntu/24.04/amd64/netboot-image';

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vmedia-https-'));
  disk = path.join(dir, 'disk.img');
  imageSha = await randomImage(disk, IMAGE_MIB);
  const https = await startHttpsImages(dir, {
    files: new Map([
      ['/images/disk.img', disk],
      [DEEP, disk],
    ]),
  });
  ({ ca, server } = https);
  harness = await startProvider({ trustStore: https.trustStore });
});

after(async () => {
  await harness?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('https image: nbdcopy from the slot socket gives the image bytes with ranged reads only; stop leaves nothing', async () => {
  const before = server.bytesSent();
  const { socket, source } = await harness.mount(`${server.origin}/images/disk.img`);
  assert.equal(await copyExport(socket, path.join(dir, 'copy.img')), imageSha);
  assert.ok(
    server.requests.every((r) => r.method === 'HEAD' || r.range),
    'every GET is a Range request',
  );
  assert.ok(server.bytesSent() - before <= IMAGE_MIB * 1024 * 1024 * 1.05, 'the image is fetched about once');
  await source.stop();
  await source.stop(); // idempotent
  harness.assertNothingLeft();
});

test('URLs real deployments use: presigned query string, %-encoding, deep path without suffix', async () => {
  const url = `${server.origin}${DEEP}?temp_url_sig=9f8e%2Bab&temp_url_expires=1999999999&X-Amz-Credential=a%2Fb`;
  const { socket, source } = await harness.mount(url);
  assert.equal(await copyExport(socket, path.join(dir, 'deep.img')), imageSha);
  await source.stop();
  const served = server.requests.filter((r) => r.path.startsWith(DEEP));
  assert.ok(
    served.length > 0 && served.every((r) => r.path === url.slice(server.origin.length)),
    'the server saw the URL unchanged',
  );
  assert.ok(!harness.logText().includes('temp_url_sig=9f8e'), 'the query string (a token) is not logged');
  harness.assertNothingLeft();
});

test('basic auth: the right password mounts, the password never shows in argv, environ or the log', async () => {
  const password = 'S3cr,et=pa ss"\'word';
  server.switches.auth = { user: 'alice', password };
  try {
    const { socket, source } = await harness.mount(`${server.origin}/images/disk.img`, {
      credentials: creds('alice', password),
    });
    const leaks = procFilesContaining(password);
    assert.deepEqual(leaks, [], `password visible in ${leaks.join(', ')}`);
    assert.equal(await copyExport(socket, path.join(dir, 'auth.img')), imageSha);
    await source.stop();
    assert.ok(!harness.logText().includes(password), 'password in the log');
    assert.ok(
      server.requests.some((r) => r.authorization === 'Basic ' + Buffer.from(`alice:${password}`).toString('base64')),
    );
  } finally {
    delete server.switches.auth;
  }
  harness.assertNothingLeft();
});

test('basic auth: wrong password → EACCES, nothing left', async () => {
  server.switches.auth = { user: 'alice', password: 'right' };
  try {
    const err = await harness.mountError(`${server.origin}/images/disk.img`, { credentials: creds('alice', 'wrong') });
    assert.equal(err.errno, 'EACCES');
    assert.match(err.message, /401/);
    const noCreds = await harness.mountError(`${server.origin}/images/disk.img`);
    assert.equal(noCreds.errno, 'EACCES');
    // the cause is in the error (the mount point logs it, once)
    assert.match(`${err.message} ${noCreds.message}`, /refused the credentials/);
  } finally {
    delete server.switches.auth;
  }
  harness.assertNothingLeft();
});

test('credentials nbdkit cannot carry → EINVAL before anything starts', async () => {
  const err = await harness.mountError(`${server.origin}/images/disk.img`, {
    credentials: creds('alice', 'two\nlines'),
  });
  assert.equal(err.errno, 'EINVAL');
  harness.assertNothingLeft();
});

test('404 → ENOENT, nothing left', async () => {
  const err = await harness.mountError(`${server.origin}/images/missing.img`);
  assert.equal(err.errno, 'ENOENT');
  assert.match(err.message, /does not exist/);
  harness.assertNothingLeft();
});

test('a server without Range support → ESPIPE, nothing left', async () => {
  server.switches.noRange = true;
  try {
    const err = await harness.mountError(`${server.origin}/images/disk.img`);
    assert.equal(err.errno, 'ESPIPE');
    assert.match(err.message, /Range/);
  } finally {
    delete server.switches.noRange;
  }
  harness.assertNothingLeft();
});

test('a redirect is refused by default (ENOTSUP) and followed when FollowRedirects is set', async () => {
  server.switches.redirects = new Map([['/moved.img', `${server.origin}/images/disk.img`]]);
  const follow = await startProvider({ trustStore: path.join(dir, 'truststore'), sources: { FollowRedirects: true } });
  try {
    const err = await harness.mountError(`${server.origin}/moved.img`);
    assert.equal(err.errno, 'ENOTSUP');
    assert.match(err.message, /redirect/);
    harness.assertNothingLeft();
    const { socket, source } = await follow.mount(`${server.origin}/moved.img`);
    assert.equal(await copyExport(socket, path.join(dir, 'moved.img')), imageSha);
    await source.stop();
    follow.assertNothingLeft();
  } finally {
    delete server.switches.redirects;
    await follow.close();
  }
});

test('a server certificate from an untrusted CA → EKEYREJECTED; adding the CA to the trust store fixes it without a restart', async () => {
  const other = createTestCa(path.join(dir, 'other-ca'), 'another CA');
  const untrusted = await startImageServer({
    files: new Map([['/d.img', disk]]),
    tls: { key: other.serverKey, cert: other.serverCert },
  });
  try {
    const err = await harness.mountError(`${untrusted.origin}/d.img`);
    assert.equal(err.errno, 'EKEYREJECTED');
    assert.match(err.message, /not trusted/);
    harness.assertNothingLeft();

    writeFileSync(path.join(dir, 'truststore', 'other.pem'), other.caPem);
    const deadline = Date.now() + 5000;
    for (;;) {
      try {
        const { source } = await harness.mount(`${untrusted.origin}/d.img`);
        await source.stop();
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    rmSync(path.join(dir, 'truststore', 'other.pem'), { force: true });
    await untrusted.close();
  }
  harness.assertNothingLeft();
});

test('host unreachable (nothing listens) → ECONNREFUSED; unknown host → EHOSTUNREACH', async () => {
  const refused = await harness.mountError('https://127.0.0.1:1/images/disk.img');
  assert.equal(refused.errno, 'ECONNREFUSED');
  const unknown = await harness.mountError('https://image-server.invalid/disk.img');
  assert.equal(unknown.errno, 'EHOSTUNREACH');
  harness.assertNothingLeft();
});

test('bad URLs → EINVAL naming the problem', async () => {
  for (const [url, why] of [
    ['ftp2://x/y.iso', /scheme "ftp2"/],
    ['https://user:pw@127.0.0.1/a.iso', /credentials/],
    ['https://127.0.0.1/', /names no file/],
    ['not a url', /spaces|not a valid URL/],
  ] as const) {
    const err = await harness.mountError(url);
    assert.equal(err.errno, 'EINVAL', url);
    assert.match(err.message, why);
  }
  harness.assertNothingLeft();
});

test('an IPv6 literal URL with a port', async () => {
  const v6 = await startImageServer({
    files: new Map([['/d.img', disk]]),
    tls: { key: ca.serverKey, cert: ca.serverCert },
    host: '::1',
  });
  try {
    assert.match(v6.origin, /^https:\/\/\[::1\]:\d+$/);
    const { socket, source } = await harness.mount(`${v6.origin}/d.img`);
    assert.equal(await copyExport(socket, path.join(dir, 'v6.img')), imageSha);
    await source.stop();
  } finally {
    await v6.close();
  }
  harness.assertNothingLeft();
});

test('nbdkit dying while serving → onExit once with an errno, nothing left', async () => {
  const { source, exits } = await harness.mount(`${server.origin}/images/disk.img`);
  const [pid] = nbdkitProcessesUnder(harness.dir);
  assert.ok(pid, 'nbdkit runs');
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + 5000;
  while (exits.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(exits.length, 1);
  assert.equal(exits[0]?.errno, 'ECONNRESET');
  harness.assertNothingLeft();
  await source.stop();
});

test('SSRF guard: loopback, link-local and own addresses are refused unless AllowPrivateSourceHosts', async () => {
  const strict = await startProvider({ trustStore: path.join(dir, 'truststore'), allowPrivate: false });
  try {
    for (const url of [
      `${server.origin}/images/disk.img`,
      `https://localhost:${server.port}/images/disk.img`,
      'https://[::1]/a.iso',
      'http://169.254.169.254/latest/meta-data',
      'http://[::ffff:127.0.0.1]/a.iso',
    ]) {
      const err = await strict.mountError(url);
      assert.equal(err.errno, 'EINVAL', url);
      assert.match(err.message, /AllowPrivateSourceHosts/);
    }
    strict.assertNothingLeft();
  } finally {
    await strict.close();
  }
});

test('retry: the server restarted mid-read → the read completes with the right bytes', async () => {
  const logBefore = harness.logText().length;
  const { socket, source } = await harness.mount(`${server.origin}/images/disk.img`);
  const sentBefore = server.bytesSent();
  const copy = copyExport(socket, path.join(dir, 'retry.img'));
  // kill it in the middle of a cache block's transfer
  while (server.bytesSent() - sentBefore < 4 * 1024 * 1024) await new Promise((r) => setTimeout(r, 2));
  await server.kill();
  await new Promise((r) => setTimeout(r, 500));
  await server.restart();
  assert.equal(await copy, imageSha);
  await source.stop();
  assert.match(
    harness.logText().slice(logBefore),
    /"nbdkit":"[^"]*pread[^"]*"/,
    'a read failed while the server was down (and was retried)',
  );
  harness.assertNothingLeft();
});

test('connection dropped mid-transfer for good → the host gets EIO, the log names the cause, stop leaves nothing', async () => {
  const impatient = await startProvider({
    trustStore: path.join(dir, 'truststore'),
    sources: { Retry: { Retries: 1, DelaySeconds: 1 }, Cache: { Enabled: false } },
  });
  try {
    const { socket, source } = await impatient.mount(`${server.origin}/images/disk.img`);
    server.switches.dropAfterBytes = 100_000;
    const r = await run('nbdcopy', [`nbd+unix:///?socket=${socket}`, path.join(dir, 'dropped.img')]);
    assert.notEqual(r.code, 0, 'nbdcopy should fail');
    assert.match(r.stderr, /Input\/output error/);
    assert.match(impatient.logText(), /"errno":"ECONNRESET".*dropped the connection mid-transfer/);
    await source.stop();
    impatient.assertNothingLeft();
  } finally {
    delete server.switches.dropAfterBytes;
    await impatient.close();
  }
});

test('compressed images are served decompressed: .img.xz and .img.gz', async () => {
  const small = path.join(dir, 'small.img');
  const sha = await randomImage(small, 6);
  assert.equal((await run('xz', ['-0', '-T1', '--block-size=1MiB', '-k', small])).code, 0);
  assert.equal((await run('gzip', ['-1', '-k', small])).code, 0);
  const files = new Map([
    ['/small.img.xz', `${small}.xz`],
    ['/small.img.gz', `${small}.gz`],
  ]);
  const plain = await startImageServer({ files });
  try {
    for (const suffix of ['xz', 'gz']) {
      const { socket, source } = await harness.mount(`${plain.origin}/small.img.${suffix}`);
      assert.equal(await copyExport(socket, path.join(dir, `small-${suffix}.out`)), sha, suffix);
      await source.stop();
    }
  } finally {
    await plain.close();
  }
  harness.assertNothingLeft();
});

test('copy-on-write: a writable mount of an HTTP image keeps the origin unchanged and reads back what the host wrote', async () => {
  const { socket, source } = await harness.mount(`${server.origin}/images/disk.img`, { writable: true });
  const uri = `nbd+unix:///?socket=${socket}`;
  const script = [
    'assert not h.is_read_only()',
    "h.pwrite(b'vmedia' * 10000, 1048576)",
    "assert h.pread(60000, 1048576) == b'vmedia' * 10000",
    "print('ok')",
  ].join('\n');
  const r = await run('/usr/bin/nbdsh', ['-u', uri, '-c', script]);
  assert.equal(r.stdout.trim(), 'ok', `nbdsh: ${r.stderr}`);
  await source.stop();
  assert.equal(await sha256File(disk), imageSha, 'origin unchanged');
  harness.assertNothingLeft();
});
