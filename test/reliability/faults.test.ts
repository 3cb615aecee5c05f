// Faults in the middle of a transfer, each on its own: nbdkit killed while the host reads, the
// image server gone (Legacy); the browser killed, the browser stalled (SIGSTOP) (Proxy). After
// each: the host's read fails instead of hanging, the Completion the state machine promises, the
// slot Ready (or still Active where nothing ended the media) and usable again, nothing left over.
// The daemon and the web restarted are in faults.long.test.ts.
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { slotPath } from '../../src/dbus/names.js';
import { waitFor } from '../helpers/wait.js';
import { randomImage } from '../sources/helpers/provider.js';
import { startBrowserChild } from './helpers/browser-child.js';
import { exportSha, legacyCycle, proxyCycle } from './helpers/cycles.js';
import { startFixture, VIRTUAL_MEDIA, type Fixture } from './helpers/fixture.js';
import { startHostRead } from './helpers/host-read.js';
import { assertBackAtRest, atRest, type Rest } from './helpers/resources.js';
import { assertSecretsKept } from './helpers/secrets.js';
import { slotState } from './helpers/slot-state.js';

const ECONNREFUSED = 111;
const EBUSY = 16;
/** Short: the export backend's NBD requests time out after Timeout s, the Completion timer after Timeout + 5 s. */
const SLOT_TIMEOUT_S = 3;
/** One retry after 1 s (default 5, doubling from 1 s: 31 s before a read fails). */
const SOURCES = { Retry: { Retries: 1, DelaySeconds: 1 } };
/** Large enough that the host is still reading when the fault strikes. */
const BIG_IMAGE_MIB = 64;

describe('faults mid-transfer', { timeout: 180_000 }, () => {
  let fx: Fixture;
  let rest: Rest;
  let bigImage: string;

  before(async () => {
    fx = await startFixture({ slotTimeout: SLOT_TIMEOUT_S, daemonConfig: { Sources: SOURCES } });
    bigImage = path.join(fx.stack.dir, 'big.img');
    await randomImage(bigImage, BIG_IMAGE_MIB);
    rest = atRest(fx);
  });
  after(async () => {
    rmSync(bigImage, { force: true });
    await fx?.close();
  });

  it('nbdkit killed while the host reads → the read fails, Completion(ECONNREFUSED), slot Ready, nothing left', async () => {
    const slot = fx.slot('Slot_2');
    const path = slotPath('Legacy', slot.name);
    const seen = fx.bus.completions(path).length;
    const client = await fx.legacy(slot.name);
    assert.equal(await client.mountWithPipe(fx.imageUrl, fx.secrets.imageUser, fx.secrets.password, 'sbv'), 0);
    // every range request now waits: the host's first read is in flight when nbdkit dies
    fx.imageServer.switches.latencyMs = 1000;
    const requests = fx.imageServer.requests.length;
    try {
      const read = startHostRead(slot.exportSocket);
      await waitFor('the host read to reach the image server', () => fx.imageServer.requests.length > requests);
      const [nbdkit] = atRest(fx).nbdkit;
      assert.ok(nbdkit, 'nbdkit serves the slot');
      process.kill(nbdkit, 'SIGKILL');
      const ended = await read.done;
      assert.notEqual(ended.code, 0, 'the host read fails');
      assert.ok(ended.bytes < fx.image.bytes, `the host got ${ended.bytes} bytes`);
    } finally {
      delete fx.imageServer.switches.latencyMs;
    }
    assert.equal(await fx.bus.completion(path, seen + 2), ECONNREFUSED, 'the mount ends as lost');
    assert.deepEqual(fx.bus.completions(path).slice(seen), [0, ECONNREFUSED]);
    assert.deepEqual(await slotState(fx.stack.busAddress, 'Legacy', slot.name), {
      active: false,
      exitCode: ECONNREFUSED,
    });
    await assertBackAtRest(fx, rest);
    await legacyCycle(fx, slot.name, 'redfish'); // Ready: it mounts and reads again
    await assertBackAtRest(fx, rest);
  });

  it('the image server gone while the host reads → the read fails after the retry, the slot stays Active; the server back → reads work again; Unmount → 0, nothing left', async () => {
    const slot = fx.slot('Slot_3');
    const path = slotPath('Legacy', slot.name);
    const seen = fx.bus.completions(path).length;
    const client = await fx.legacy(slot.name);
    assert.equal(await client.mountWithPipe(fx.imageUrl, fx.secrets.imageUser, fx.secrets.password, 'sbv'), 0);
    fx.imageServer.switches.latencyMs = 1000;
    const requests = fx.imageServer.requests.length;
    try {
      const read = startHostRead(slot.exportSocket);
      await waitFor('the host read to reach the image server', () => fx.imageServer.requests.length > requests);
      await fx.imageServer.kill();
      const ended = await read.done;
      assert.notEqual(ended.code, 0, 'the host read fails');
      assert.equal(ended.bytes, 0);
    } finally {
      delete fx.imageServer.switches.latencyMs;
      await fx.imageServer.restart();
    }
    // nbdkit lives on: the media did not end, only a read failed
    assert.deepEqual(await slotState(fx.stack.busAddress, 'Legacy', slot.name), { active: true, exitCode: -1 });
    assert.equal(await exportSha(slot.exportSocket, fx.image.bytes), fx.image.sha, 'the host reads again');
    assert.equal(await client.unmount(), 0);
    assert.deepEqual(fx.bus.completions(path).slice(seen), [0, 0]);
    await assertBackAtRest(fx, rest);
  });

  it('the browser killed while the host reads → the read fails, Completion(ECONNREFUSED), the socket removed, slot Ready', async () => {
    const slot = fx.slot('Slot_0');
    const path = slotPath('Proxy', slot.name);
    const seen = fx.bus.completions(path).length;
    const browser = await startBrowserChild(fx, slot.endpoint, bigImage);
    assert.equal(await fx.bus.completion(path, seen + 1), 0, 'mounted');
    const read = startHostRead(slot.exportSocket);
    await waitFor('the host to receive data', () => read.bytes() > 0, { timeoutMs: 10_000 });
    browser.signal('SIGKILL');
    const ended = await read.done;
    assert.notEqual(ended.code, 0, 'the host read fails');
    assert.ok(ended.bytes < BIG_IMAGE_MIB * 1024 * 1024, `the host got ${ended.bytes} bytes`);
    assert.equal(await fx.bus.completion(path, seen + 2), ECONNREFUSED, 'the mount ends as lost');
    await waitFor('the bridge to remove the slot socket', () => !existsSync(slot.socket));
    assert.deepEqual(await slotState(fx.stack.busAddress, 'Proxy', slot.name), {
      active: false,
      exitCode: ECONNREFUSED,
    });
    await assertBackAtRest(fx, rest);
    await proxyCycle(fx, slot.name, 'eject');
    await assertBackAtRest(fx, rest);
  });

  it('the browser stalled (SIGSTOP) while the host reads → the read fails within Timeout, EjectMedia completes with 0 (no EBUSY), the slot is free once the browser is gone', async () => {
    const slot = fx.slot('Slot_1');
    const path = slotPath('Proxy', slot.name);
    const seen = fx.bus.completions(path).length;
    const browser = await startBrowserChild(fx, slot.endpoint, bigImage);
    try {
      assert.equal(await fx.bus.completion(path, seen + 1), 0, 'mounted');
      const read = startHostRead(slot.exportSocket);
      await waitFor('the host to receive data', () => read.bytes() > 0, { timeoutMs: 10_000 });
      browser.signal('SIGSTOP');
      const stalled = performance.now();
      const ended = await read.done;
      const readFailedAfter = (performance.now() - stalled) / 1000;
      assert.notEqual(ended.code, 0, 'the host read fails');
      assert.ok(readFailedAfter < SLOT_TIMEOUT_S + 2, `the host read failed after ${readFailedAfter.toFixed(1)} s`);

      const ejecting = performance.now();
      const eject = await fx.request(`${VIRTUAL_MEDIA}/${slot.name}/Actions/VirtualMedia.EjectMedia`, {
        method: 'POST',
        auth: fx.stack.operator,
        body: {},
      });
      const ejectSeconds = (performance.now() - ejecting) / 1000;
      assert.equal(eject.status, 204, eject.text);
      assert.ok(ejectSeconds < SLOT_TIMEOUT_S + 1, `EjectMedia took ${ejectSeconds.toFixed(1)} s`);
      assert.deepEqual(fx.bus.completions(path).slice(seen), [0, 0], `no Completion(${EBUSY}): the eject did not hang`);
      assert.deepEqual(await slotState(fx.stack.busAddress, 'Proxy', slot.name), { active: false, exitCode: 0 });
    } finally {
      browser.signal('SIGKILL'); // a stopped process dies on SIGKILL too
      await browser.exited;
    }
    await waitFor('the bridge to remove the slot socket', () => !existsSync(slot.socket));
    await assertBackAtRest(fx, rest);
    await proxyCycle(fx, slot.name, 'client-close');
    await assertBackAtRest(fx, rest);
  });

  it('no secret of these faults in any argv, environ, log line, HTTP response or D-Bus property', async () => {
    await assertSecretsKept(fx, 'Slot_3');
  });
});
