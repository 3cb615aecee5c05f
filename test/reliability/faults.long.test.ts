// The slow faults (npm run test:long): the daemon SIGKILLed with media in and a request pending,
// then restarted; the web restarted (SIGTERM) and killed (SIGKILL) with a bridge open. After each:
// the pending request answered, the Completion the state machine promises, every slot Ready,
// what the dead process left cleared by its successor, both modes usable, nothing left over.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { slotPath } from '../../src/dbus/names.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/wait.js';
import { legacyClient } from '../sources/helpers/legacy-client.js';
import { basicAuth, connectWsNbdServer, type WsNbdServer } from '../web/ws-nbd-server.js';
import { connectBrowser, exportSha, legacyCycle, proxyCycle } from './helpers/cycles.js';
import { startFixture, VIRTUAL_MEDIA, type Fixture } from './helpers/fixture.js';
import { assertBackAtRest, atRest, type Rest } from './helpers/resources.js';
import { slotState } from './helpers/slot-state.js';
import { startWebLike, type WebProcess } from './helpers/web-process.js';

const ECONNREFUSED = 111;
const SLOT_TIMEOUT_S = 3;
const SLOTS = [
  ['Proxy', 'Slot_0'],
  ['Proxy', 'Slot_1'],
  ['Legacy', 'Slot_2'],
  ['Legacy', 'Slot_3'],
] as const;

describe('faults: the daemon and the web restarted', { timeout: 300_000 }, () => {
  let fx: Fixture;
  let rest: Rest;
  /** The daemon started in place of the stack's. */
  let daemon: RunningDaemon | undefined;
  /** The webs started in place of the stack's. */
  const webs: WebProcess[] = [];

  before(async () => {
    fx = await startFixture({ slotTimeout: SLOT_TIMEOUT_S });
    rest = atRest(fx);
  });
  after(async () => {
    for (const w of webs) await w.stop();
    await daemon?.stop();
    await fx?.close();
  });

  const everySlotReady = async () => {
    for (const [mode, slot] of SLOTS) {
      assert.equal((await slotState(fx.stack.busAddress, mode, slot)).active, false, `${slot} is Ready`);
    }
  };
  const browserOn = (port: number, endpoint: string): Promise<WsNbdServer> =>
    connectWsNbdServer(`wss://127.0.0.1:${port}${endpoint}`, {
      ca: fx.stack.ca,
      image: fx.image.file,
      headers: basicAuth(fx.stack.operator.user, fx.stack.operator.password),
    });

  it('daemon SIGKILLed with a bridge active, a Legacy slot mounted and an InsertMedia pending → 503, nbdkit gone; the restarted daemon clears the stale sockets and pid file, every slot Ready and usable', async () => {
    const proxy = fx.slot('Slot_0');
    const proxyPath = slotPath('Proxy', proxy.name);
    const seen = fx.bus.completions(proxyPath).length;
    const browser = await connectBrowser(fx, proxy.endpoint);
    assert.equal(await fx.bus.completion(proxyPath, seen + 1), 0);
    const legacy = await fx.legacy('Slot_3');
    assert.equal(await legacy.mountWithPipe(fx.imageUrl, fx.secrets.imageUser, fx.secrets.password, 'sbv'), 0);
    // an InsertMedia whose source is still starting (each image request waits) when the daemon dies
    fx.imageServer.switches.latencyMs = 2000;
    const requests = fx.imageServer.requests.length;
    const pending = fx.request(`${VIRTUAL_MEDIA}/Slot_2/Actions/VirtualMedia.InsertMedia`, {
      method: 'POST',
      auth: fx.stack.operator,
      body: { Image: fx.imageUrl, UserName: fx.secrets.imageUser, Password: fx.secrets.password },
    });
    try {
      await waitFor('the pending mount to reach the image server', () => fx.imageServer.requests.length > requests);
      const config: object = JSON.parse(readFileSync(fx.stack.daemon.configPath, 'utf8'));
      process.kill(fx.stack.daemon.pid, 'SIGKILL');
      await fx.stack.daemon.exited;

      const answer = await pending;
      assert.equal(answer.status, 503, answer.text);
      assert.equal(answer.headers['retry-after'], '10');
      assert.equal((await browser.ended).code, 1000, 'the bridge closed the browser: the host side is gone');
      await waitFor('the bridge to remove its socket', () => !existsSync(proxy.socket));
      await waitFor(
        'nbdkit to exit with its parent',
        () => atRest(fx, { daemon: process.pid, web: fx.stack.webPid }).nbdkit.length === 0,
      );
      const left = atRest(fx, { daemon: process.pid, web: fx.stack.webPid }).files.filter(
        (f) => !rest.files.includes(f),
      );
      assert.ok(
        left.includes('run/export/Slot_0.sock=') && left.includes('run/sources/Slot_3.pid'),
        `left: ${left.join(', ')}`,
      );

      daemon = await startDaemon({ config, busAddress: fx.stack.busAddress });
    } finally {
      delete fx.imageServer.switches.latencyMs;
    }
    const pids = { daemon: daemon.pid, web: fx.stack.webPid };
    const restarted = { ...atRest(fx, pids) };
    assert.deepEqual(restarted.files, rest.files, 'the restarted daemon removed what the killed one left');
    await everySlotReady();

    // a new D-Bus client: dbus-next proxies follow the name's old owner
    const client = await legacyClient(fx.stack.busAddress, 'Slot_3');
    try {
      assert.equal(await client.mountWithPipe(fx.imageUrl, fx.secrets.imageUser, fx.secrets.password, 'sbv'), 0);
      assert.equal(await exportSha(fx.slot('Slot_3').exportSocket, fx.image.bytes), fx.image.sha);
      assert.equal(await client.unmount(), 0);
    } finally {
      client.close();
    }
    await legacyCycle(fx, 'Slot_2', 'redfish'); // the web follows the new daemon
    await proxyCycle(fx, 'Slot_0', 'eject');
    await assertBackAtRest(fx, { ...rest, daemonFds: restarted.daemonFds }, pids);
  });

  it('the web restarted (SIGTERM) with a bridge open → it ejects (Completion 0), closes the browser (1001) and exits; the new web serves the bridge and Redfish', async () => {
    const slot = fx.slot('Slot_0');
    const path = slotPath('Proxy', slot.name);
    const seen = fx.bus.completions(path).length;
    const browser = await connectBrowser(fx, slot.endpoint);
    assert.equal(await fx.bus.completion(path, seen + 1), 0);
    await fx.web.close(); // a process with a debugger attached waits for it before exiting
    process.kill(fx.stack.webPid, 'SIGTERM');
    assert.deepEqual(await browser.ended, { code: 1001, reason: 'server shutting down' });
    assert.equal(await fx.bus.completion(path, seen + 2), 0, 'the shutdown ejects: a requested eject');
    await waitFor('the old web to exit', () => !existsSync(`/proc/${fx.stack.webPid}`));
    assert.ok(!existsSync(slot.socket), 'the bridge socket removed');
    await everySlotReady();

    const web = await startWebLike(fx.stack);
    webs.push(web);
    const again = await browserOn(web.port, slot.endpoint);
    assert.equal(await fx.bus.completion(path, seen + 3), 0, 'the new web mounts');
    assert.equal(await exportSha(slot.exportSocket, fx.image.bytes), fx.image.sha);
    const eject = await web.request(`${VIRTUAL_MEDIA}/${slot.name}/Actions/VirtualMedia.EjectMedia`, {
      method: 'POST',
      auth: fx.stack.operator,
      body: {},
    });
    assert.equal(eject.status, 204, eject.text);
    assert.equal((await again.ended).code, 1000);
    await waitFor('the bridge socket removed', () => !existsSync(slot.socket));
    const pids = { daemon: daemon!.pid, web: web.pid };
    assert.deepEqual(atRest(fx, pids).files, rest.files);
  });

  it('the web SIGKILLed with a bridge open → the mount ends as lost (Completion ECONNREFUSED), slot Ready; the next web takes the slot over its stale socket; nothing left after', async () => {
    const slot = fx.slot('Slot_1');
    const path = slotPath('Proxy', slot.name);
    const seen = fx.bus.completions(path).length;
    const doomed = webs.at(-1)!;
    const browser = await browserOn(doomed.port, slot.endpoint);
    assert.equal(await fx.bus.completion(path, seen + 1), 0);
    doomed.signal('SIGKILL');
    assert.equal(await doomed.exited, null);
    assert.equal((await browser.ended).code, 1006, 'the connection dropped');
    assert.equal(await fx.bus.completion(path, seen + 2), ECONNREFUSED, 'the daemon saw its NBD server go');
    assert.deepEqual(await slotState(fx.stack.busAddress, 'Proxy', slot.name), {
      active: false,
      exitCode: ECONNREFUSED,
    });

    const web = await startWebLike(fx.stack);
    webs.push(web);
    const again = await browserOn(web.port, slot.endpoint);
    assert.equal(await fx.bus.completion(path, seen + 3), 0, 'the new web mounts');
    assert.equal(await exportSha(slot.exportSocket, fx.image.bytes), fx.image.sha);
    again.ws.close();
    assert.equal(await fx.bus.completion(path, seen + 4), ECONNREFUSED);
    await waitFor('the bridge socket removed', () => !existsSync(slot.socket));
    const pids = { daemon: daemon!.pid, web: web.pid };
    const now = atRest(fx, pids);
    assert.deepEqual(now.files, rest.files);
    assert.deepEqual(now.nbdkit, []);
    await everySlotReady();
  });
});
