// Legacy mode end to end through the real daemon (export host backend): Redfish-style
// Legacy.Mount over D-Bus — busctl for `sbv … i -1`, python3-dbus for calls with a credentials
// pipe — against a real HTTPS server with a 256 MiB random image, read back with nbdcopy from
// the slot's ExportSocket; every failure gives its errno in Completion and leaves nothing behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestBus, type TestBus } from '../helpers/private-bus.js';
import { waitFor } from '../helpers/wait.js';
import { startHttpsImages } from '../helpers/https-images.js';
import { exportBackendSlot, startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { errnoNumber as errno } from '../../src/errno.js';
import { createTestCa } from './helpers/test-ca.js';
import { startImageServer, type ImageServer } from './helpers/image-server.js';
import { legacyClient, type LegacyClient } from './helpers/legacy-client.js';
import { copyExport, nbdkitProcessesUnder, procFilesContaining, randomImage } from './helpers/provider.js';

const IMAGE_MIB = 256;
const SLOT = 'Slot_2';

let dir: string;
let runtime: string;
let bus: TestBus;
let daemon: RunningDaemon;
let server: ImageServer;
let slot: LegacyClient;
let imageSha: string;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vmedia-legacy-'));
  runtime = path.join(dir, 'run');
  const image = path.join(dir, 'disk.img');
  imageSha = await randomImage(image, IMAGE_MIB);
  const https = await startHttpsImages(dir, { files: new Map([['/disk.img', image]]) });
  server = https.server;
  bus = await startTestBus();
  daemon = await startDaemon({
    busAddress: bus.address,
    config: {
      HostBackend: 'export',
      AllowPrivateSourceHosts: true,
      TrustStore: https.trustStore,
      RuntimeDir: runtime,
      MountPoints: { [SLOT]: exportBackendSlot('Legacy', 2) },
    },
  });
  slot = await legacyClient(bus.address, SLOT);
});

after(async () => {
  slot?.close();
  await daemon?.stop();
  await bus?.stop();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function unmount(): Promise<void> {
  assert.equal(await slot.unmount(), 0, 'Unmount completes with 0');
}

function assertNothingLeft(): void {
  assert.deepEqual(nbdkitProcessesUnder(runtime), [], 'nbdkit left running');
  assert.ok(!existsSync(path.join(runtime, 'nbd2.sock')), 'slot socket left behind');
  const state = path.join(runtime, 'sources');
  assert.deepEqual(
    readdirSync(state).filter((f) => f !== 'tmp' && f !== 'capath'),
    [],
    'state files left behind',
  );
  assert.deepEqual(readdirSync(path.join(state, 'tmp')), [], 'temp files left behind');
}

test('Legacy sbv via busctl (no credentials): Completion(0), nbdcopy of the ExportSocket gives the image, Unmount → Completion(0)', async () => {
  const url = `${server.origin}/disk.img`;
  assert.equal(await slot.mount(url), 0, daemon.output().slice(-2000));
  assert.equal(await slot.imageUrl(), `s "${url}"`);
  const started = Date.now();
  assert.equal(await copyExport(path.join(runtime, 'export/Slot_2.sock'), path.join(dir, 'copy.img')), imageSha);
  const seconds = (Date.now() - started) / 1000;
  console.log(`# nbdcopy of ${IMAGE_MIB} MiB through the Legacy chain: ${(IMAGE_MIB / seconds).toFixed(0)} MiB/s`);
  rmSync(path.join(dir, 'copy.img'));
  await unmount();
  assertNothingLeft();
});

test('Legacy sbh with a credentials pipe (basic auth): Completion(0), right bytes; the password is in no argv, environ or log', async () => {
  const password = 'p@ss,w0rd=with spaces';
  server.switches.auth = { user: 'operator', password };
  try {
    const code = await slot.mountWithPipe(`${server.origin}/disk.img`, 'operator', password, 'sbh');
    // mounted: nbdkit runs with the credentials
    assert.deepEqual(procFilesContaining(password), [], 'password in argv or environ');
    assert.equal(code, 0, daemon.output().slice(-2000));
    assert.equal(await copyExport(path.join(runtime, 'export/Slot_2.sock'), path.join(dir, 'auth.img')), imageSha);
    rmSync(path.join(dir, 'auth.img'));
    await unmount();
    assert.ok(!daemon.output().includes(password), 'password in the daemon log');
  } finally {
    delete server.switches.auth;
  }
  assertNothingLeft();
});

test('Legacy sbv with a pipe and the wrong password → Completion(EACCES), nothing left', async () => {
  server.switches.auth = { user: 'operator', password: 'right' };
  try {
    assert.equal(await slot.mountWithPipe(`${server.origin}/disk.img`, 'operator', 'wrong', 'sbv'), errno('EACCES'));
  } finally {
    delete server.switches.auth;
  }
  assert.equal(await slot.imageUrl(), 's ""');
  assertNothingLeft();
});

test('each failure → its errno in Completion, one log line naming the cause, nothing left', async () => {
  const other = createTestCa(path.join(dir, 'other-ca'), 'untrusted CA');
  const untrusted = await startImageServer({
    files: new Map([['/disk.img', path.join(dir, 'disk.img')]]),
    tls: { key: other.serverKey, cert: other.serverCert },
  });
  server.switches.redirects = new Map([['/moved.img', `${server.origin}/disk.img`]]);
  try {
    const cases: [string, number, RegExp, () => void, () => void][] = [
      [`${server.origin}/missing.img`, errno('ENOENT'), /does not exist/, () => {}, () => {}],
      [`${untrusted.origin}/disk.img`, errno('EKEYREJECTED'), /not trusted/, () => {}, () => {}],
      [`${server.origin}/moved.img`, errno('ENOTSUP'), /redirects/, () => {}, () => {}],
      [
        `${server.origin}/disk.img`,
        errno('ESPIPE'),
        /Range/,
        () => {
          server.switches.noRange = true;
        },
        () => {
          delete server.switches.noRange;
        },
      ],
      ['https://127.0.0.1:1/disk.img', errno('ECONNREFUSED'), /refused the connection/, () => {}, () => {}],
      ['gopher://127.0.0.1/disk.img', errno('EINVAL'), /scheme [^ ]*gopher/, () => {}, () => {}],
    ];
    for (const [url, expected, cause, setUp, tearDown] of cases) {
      setUp();
      const logged = daemon.output().length;
      try {
        assert.equal(await slot.mount(url), expected, url);
      } finally {
        tearDown();
      }
      // warnings and errors since this Mount: exactly one, and it names the cause. The mount
      // point logs it just before Completion, which may overtake the log on its way here.
      const problemsSince = () =>
        daemon
          .output()
          .slice(logged)
          .split('\n')
          .filter((l) => /"level":(40|50|60)/.test(l));
      const problems = await waitFor(`a log line for ${url}`, () => problemsSince().length > 0 && problemsSince());
      assert.equal(problems.length, 1, `${url}:\n${problems.join('\n')}`);
      assert.match(problems[0]!, cause, url);
      assertNothingLeft();
    }
  } finally {
    delete server.switches.redirects;
    await untrusted.close();
  }
});
