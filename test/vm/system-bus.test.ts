// The D-Bus system policy and the privilege split, proven on a real system bus in the VM:
// the distribution's system.conf with systemd/xyz.openbmc_project.VirtualMedia.conf installed,
// users from vmedia.sysusers.conf, dirs from vmedia.tmpfiles.conf; the daemon as root, the web as
// vmedia-web with no capabilities (as vmedia-web.service runs it). The web mounts and ejects a
// Legacy image through Redfish and serves a Proxy slot through the WebSocket bridge; vmedia-web
// may call nothing else and own nothing; any other user may not even read the slots. Once under
// dbus-daemon, once under dbus-broker (OpenBMC's bus).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { BUS_NAME, IFACE, ROOT_PATH, slotPath } from '../../src/dbus/names.js';
import { startDaemon } from '../helpers/daemon.js';
import { httpsJson, type HttpResponse, type RequestOptions } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';
import { startImageServer, type ImageServer } from '../sources/helpers/image-server.js';
import { createTestCa, type TestCa } from '../sources/helpers/test-ca.js';
import { basicAuth, connectWsNbdServer } from '../web/ws-nbd-server.js';
import { daemonBundle } from './helpers/daemon-bundle.js';
import { createRandomImage, MiB } from './helpers/image.js';
import { callAs, installAsOnTheBmc, startSystemBus, type BusKind } from './helpers/system-bus.js';
import { startUnitWeb, WEB_USER, type UnitWeb } from './helpers/system-bus-web.js';
import { requireVm, vmTempDir } from './helpers/vm.js';

requireVm();

const run = promisify(execFile);
const RUN = '/run/virtual-media';
const OTHER_USER = 'vmedia-test-other';
const VM = '/redfish/v1/Managers/bmc/VirtualMedia';
const LEGACY = slotPath('Legacy', 'Slot_2');
const PROXY = slotPath('Proxy', 'Slot_0');
/** The daemon and the web are Node processes: under TCG each takes seconds to start. */
const START_TIMEOUT_MS = 120_000;

const dir = vmTempDir('vmedia-system-bus');
const started = performance.now();
/** Under TCG on a loaded machine this file takes minutes: where it is, on stderr (the VM log). */
const progress = (what: string) =>
  process.stderr.write(`system-bus: ${what} after ${Math.round(performance.now() - started)} ms\n`);
let image: { path: string; sha: string };
let images: ImageServer;
let ca: TestCa;
let entry: string;

/** OpenBMC's default layout, cut to one Proxy and one Legacy slot, export backend (no gadget needed here). */
const CONFIG = {
  HostBackend: 'export',
  AllowPrivateSourceHosts: true,
  InactivityTimeout: 0,
  RuntimeDir: RUN,
  TrustStore: '/etc/vmedia/truststore',
  MountPoints: {
    Slot_0: {
      EndpointId: '/nbd/0',
      Mode: 0,
      NBDDevice: 'nbd0',
      UnixSocket: `${RUN}/nbd0.sock`,
      ExportSocket: `${RUN}/export/Slot_0.sock`,
      Timeout: 30,
    },
    Slot_2: {
      EndpointId: '',
      Mode: 1,
      NBDDevice: 'nbd2',
      UnixSocket: `${RUN}/nbd2.sock`,
      ExportSocket: `${RUN}/export/Slot_2.sock`,
      Timeout: 30,
    },
  },
};

before(async () => {
  await installAsOnTheBmc();
  await run('useradd', ['--system', '--no-create-home', OTHER_USER]);
  const file = path.join(dir, 'disk.img');
  image = { path: file, sha: await createRandomImage(file, 1 * MiB) };
  images = await startImageServer({ files: new Map([['/disk.img', file]]), host: '127.0.0.1' });
  ca = createTestCa(path.join(dir, 'ca'));
  progress('users, dirs, image, CA');
  entry = await daemonBundle();
  progress('bundle');
});

after(async () => {
  await images?.close();
});

test("sysusers and tmpfiles: vmedia-web is a system user without login; the runtime dir is its group's, sticky; the trust store its own", async () => {
  const [, , uid, gid, , home, shell] = (await run('getent', ['passwd', WEB_USER])).stdout.trim().split(':');
  assert.ok(Number(uid) > 0 && Number(uid) < 1000, `a system uid: ${uid}`);
  assert.deepEqual([home, shell], ['/nonexistent', '/usr/sbin/nologin']);
  const runtime = statSync(RUN);
  assert.deepEqual([(runtime.mode & 0o7777).toString(8), runtime.uid, runtime.gid], ['1770', 0, Number(gid)]);
  const trust = statSync('/etc/vmedia/truststore');
  assert.deepEqual([(trust.mode & 0o777).toString(8), trust.uid, trust.gid], ['755', Number(uid), Number(gid)]);
});

/** The same matrix on either bus: what vmedia-web, another user and root may and may not do. */
async function checkPolicy(): Promise<void> {
  const denied = 'org.freedesktop.DBus.Error.AccessDenied';
  const own = [
    'org.freedesktop.DBus',
    '/org/freedesktop/DBus',
    'org.freedesktop.DBus.RequestName',
    `string:${BUS_NAME}`,
    'uint32:0',
  ] as const;
  const legacyMount = [
    BUS_NAME,
    LEGACY,
    `${IFACE.legacy}.Mount`,
    `string:${images.origin}/disk.img`,
    'boolean:false',
    'variant:int32:-1',
  ] as const;
  const slots = [BUS_NAME, ROOT_PATH, 'org.freedesktop.DBus.ObjectManager.GetManagedObjects'] as const;
  // vmedia-web: what the web calls, and read-only introspection, nothing else
  assert.equal(await callAs(WEB_USER, ...slots), 'ok');
  assert.equal(
    await callAs(WEB_USER, BUS_NAME, LEGACY, 'org.freedesktop.DBus.Properties.GetAll', `string:${IFACE.mountPoint}`),
    'ok',
  );
  assert.equal(await callAs(WEB_USER, BUS_NAME, LEGACY, 'org.freedesktop.DBus.Introspectable.Introspect'), 'ok');
  assert.equal(await callAs(WEB_USER, ...own), denied);
  assert.equal(
    await callAs(
      WEB_USER,
      BUS_NAME,
      LEGACY,
      'org.freedesktop.DBus.Properties.Set',
      `string:${IFACE.mountPoint}`,
      'string:Timeout',
      'variant:int32:5',
    ),
    denied,
  );
  assert.equal(await callAs(WEB_USER, BUS_NAME, LEGACY, 'org.freedesktop.DBus.Peer.Ping'), denied);
  // any other user: no name, no Mount, not even the slot list
  assert.equal(await callAs(OTHER_USER, ...own), denied);
  assert.equal(await callAs(OTHER_USER, ...legacyMount), denied);
  assert.equal(await callAs(OTHER_USER, BUS_NAME, PROXY, `${IFACE.proxy}.Mount`), denied);
  assert.equal(await callAs(OTHER_USER, ...slots), denied);
  // root (bmcweb, busctl on the BMC shell) may call anything
  assert.equal(await callAs('root', BUS_NAME, LEGACY, 'org.freedesktop.DBus.Peer.Ping'), 'ok');
  // vmedia-web's Mount and Unmount reach the daemon (the web's own calls, made with dbus-send)
  assert.equal(await callAs(WEB_USER, ...legacyMount), 'ok');
  await waitFor('the Legacy slot to be Active', async () => (await activeOf(LEGACY)) === 'b true', {
    timeoutMs: 60_000,
    intervalMs: 500,
  });
  assert.equal(await callAs(WEB_USER, BUS_NAME, LEGACY, `${IFACE.legacy}.Unmount`), 'ok');
  await waitFor('the Legacy slot to be free', async () => (await activeOf(LEGACY)) === 'b false', {
    timeoutMs: 60_000,
    intervalMs: 500,
  });
}

/** The web itself, as the unit runs it: Legacy through Redfish, Proxy through the bridge. */
async function checkWeb(web: UnitWeb): Promise<void> {
  const { baseUrl, operator } = web;
  const req = (pathname: string, opts: RequestOptions = {}): Promise<HttpResponse> =>
    httpsJson(baseUrl, ca.caPem, pathname, { auth: operator, ...opts });

  const insert = await req(`${VM}/Slot_2/Actions/VirtualMedia.InsertMedia`, {
    method: 'POST',
    body: { Image: `${images.origin}/disk.img`, TransferProtocolType: 'HTTP' },
  });
  assert.equal(insert.status, 204, insert.text);
  assert.equal((await req(`${VM}/Slot_2`)).json.Inserted, true);
  assert.equal(await exportSha('Slot_2'), image.sha);
  const eject = await req(`${VM}/Slot_2/Actions/VirtualMedia.EjectMedia`, { method: 'POST', body: {} });
  assert.equal(eject.status, 204, eject.text);
  assert.equal((await req(`${VM}/Slot_2`)).json.Inserted, false);

  // the web (no capabilities) makes nbd0.sock 0600 in the shared runtime dir; the daemon (root) connects
  const browser = await connectWsNbdServer(`${baseUrl.replace('https:', 'wss:')}/nbd/0`, {
    ca: ca.caPem,
    image: image.path,
    headers: basicAuth(operator.user, operator.password),
  });
  await waitFor('the Proxy slot to be Active', async () => (await req(`${VM}/Slot_0`)).json.Inserted === true, {
    timeoutMs: 60_000,
    intervalMs: 500,
  });
  const socket = statSync(`${RUN}/nbd0.sock`);
  assert.equal((socket.mode & 0o777).toString(8), '600');
  assert.equal(
    socket.uid,
    Number((await run('id', ['-u', WEB_USER])).stdout.trim()),
    "the Proxy socket is the web user's",
  );
  assert.equal(await exportSha('Slot_0'), image.sha);
  browser.ws.close();
  await waitFor('the Proxy slot to be free', async () => (await req(`${VM}/Slot_0`)).json.Inserted === false, {
    timeoutMs: 60_000,
    intervalMs: 500,
  });
}

// dbus-daemon: the whole chain with the web; dbus-broker: the same policy matrix (the web's calls
// made with dbus-send as vmedia-web), which is what differs between the two buses
for (const [kind, withWeb] of [
  ['dbus-daemon', true],
  ['dbus-broker', false],
] as [BusKind, boolean][]) {
  const what = withWeb ? 'the web as vmedia-web mounts and ejects; ' : '';
  test(
    `${kind}: ${what}the policy allows vmedia-web exactly its calls and denies everyone else`,
    { timeout: 600_000 },
    async () => {
      const bus = await startSystemBus(kind);
      let web: UnitWeb | undefined;
      const daemon = await startDaemon({
        config: CONFIG,
        busAddress: 'system',
        entry,
        startTimeoutMs: START_TIMEOUT_MS,
      }).catch(async (err: unknown) => {
        await bus.stop();
        throw err;
      });
      progress(`${kind} + daemon up`);
      try {
        if (withWeb) {
          web = await startUnitWeb({ entry, certPem: ca.serverCert, keyPem: ca.serverKey });
          progress('web up');
          await checkWeb(web);
          progress('web checked');
        }
        await checkPolicy();
        progress('policy checked');
      } catch (err) {
        throw new Error(
          `${(err as Error).message}\n--- web:\n${web?.output().slice(-3000)}\n--- daemon:\n${daemon.output().slice(-3000)}\n--- bus:\n${bus.output().slice(-2000)}`,
        );
      } finally {
        await web?.stop();
        await daemon.stop();
        await bus.stop();
        progress(`${kind}: all stopped`);
      }
    },
  );
}

async function activeOf(slot: string): Promise<string> {
  return (await run('busctl', ['--system', 'get-property', BUS_NAME, slot, IFACE.process, 'Active'])).stdout.trim();
}

/** sha256 of what the daemon re-serves on the slot's export socket. */
async function exportSha(slot: string): Promise<string> {
  const copy = await run('sh', ['-c', `nbdcopy 'nbd+unix:///?socket=${RUN}/export/${slot}.sock' - | sha256sum`], {
    timeout: 120_000,
  });
  return copy.stdout.split(' ')[0]!;
}
