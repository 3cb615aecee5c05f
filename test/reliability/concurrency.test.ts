// Races on one slot from several D-Bus clients and Redfish at once, and every slot in use at
// once: exactly one Mount or Unmount wins (one Completion), the others are refused (EBUSY/EPERM
// on D-Bus, 409 from Redfish), the final state is consistent, and nothing is left over.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import dbus from 'dbus-next';
import { IFACE, slotPath } from '../../src/dbus/names.js';
import { BusClient } from '../daemon/bus-client.js';
import { waitFor } from '../helpers/wait.js';
import { connectBrowser, exportSha } from './helpers/cycles.js';
import { startFixture, VIRTUAL_MEDIA, type Fixture } from './helpers/fixture.js';
import { atRest, assertBackAtRest, type Rest } from './helpers/resources.js';
import { assertSecretsKept } from './helpers/secrets.js';
import { slotState } from './helpers/slot-state.js';

/** D-Bus clients racing Redfish requests on one slot. */
const BUS_CLIENTS = 4;
const REDFISH_REQUESTS = 2;

/** A D-Bus call's outcome: "accepted" (it returned true) or the error name. */
async function busOutcome(call: Promise<unknown[]>): Promise<string> {
  try {
    const [reply] = await call;
    return reply === true ? 'accepted' : `returned ${String(reply)}`;
  } catch (err) {
    if (err instanceof dbus.DBusError) return err.type;
    throw err;
  }
}

const REFUSED = new Set(['System.Error.EBUSY', 'System.Error.EPERM']);

describe('concurrency', { timeout: 180_000 }, () => {
  let fx: Fixture;
  let clients: BusClient[];
  let rest: Rest;

  before(async () => {
    fx = await startFixture();
    clients = await Promise.all(Array.from({ length: BUS_CLIENTS }, () => BusClient.connect(fx.stack.busAddress)));
    rest = atRest(fx);
  });
  after(async () => {
    clients?.forEach((c) => c.close());
    await fx?.close();
  });

  const active = async (mode: 'Proxy' | 'Legacy', slot: string): Promise<boolean> =>
    (await slotState(fx.stack.busAddress, mode, slot)).active;

  it(`Legacy: ${BUS_CLIENTS} D-Bus Mounts and ${REDFISH_REQUESTS} InsertMedia at once → one wins; then as many Unmounts and EjectMedias → one wins`, async () => {
    const slot = 'Slot_2';
    const path = slotPath('Legacy', slot);
    const action = (name: string, body: object) =>
      fx.request(`${VIRTUAL_MEDIA}/${slot}/Actions/VirtualMedia.${name}`, {
        method: 'POST',
        auth: fx.stack.operator,
        body,
      });
    // no credentials (D-Bus callers without a pipe): the image server lets everyone in for this test
    const auth = fx.imageServer.switches.auth;
    delete fx.imageServer.switches.auth;
    try {
      const seen = fx.bus.completions(path).length;
      const [bus, web] = await Promise.all([
        Promise.all(
          clients.map((c) =>
            busOutcome(c.call(path, IFACE.legacy, 'Mount', 'sbv', [fx.imageUrl, false, new dbus.Variant('i', -1)])),
          ),
        ),
        Promise.all(Array.from({ length: REDFISH_REQUESTS }, () => action('InsertMedia', { Image: fx.imageUrl }))),
      ]);
      const winners = bus.filter((o) => o === 'accepted').length + web.filter((r) => r.status === 204).length;
      assert.equal(
        winners,
        1,
        `one Mount wins: D-Bus ${bus.join(', ')}; Redfish ${web.map((r) => r.status).join(', ')}`,
      );
      assert.ok(
        bus.every((o) => o === 'accepted' || REFUSED.has(o)),
        `the others are refused: ${bus.join(', ')}`,
      );
      assert.ok(
        web.every((r) => r.status === 204 || r.status === 409),
        web.map((r) => r.text).join('\n'),
      );
      assert.equal(await fx.bus.completion(path, seen + 1), 0, 'the winner mounts');
      assert.equal(await active('Legacy', slot), true);
      assert.equal(await exportSha(fx.slot(slot).exportSocket, fx.image.bytes), fx.image.sha);
      assert.equal(atRest(fx).nbdkit.length, 1, 'one nbdkit serves the slot');

      const [busOff, webOff] = await Promise.all([
        Promise.all(clients.map((c) => busOutcome(c.call(path, IFACE.legacy, 'Unmount')))),
        Promise.all(Array.from({ length: REDFISH_REQUESTS }, () => action('EjectMedia', {}))),
      ]);
      assert.ok(
        busOff.filter((o) => o === 'accepted').length <= 1 && busOff.every((o) => o === 'accepted' || REFUSED.has(o)),
        `D-Bus Unmounts: ${busOff.join(', ')}`,
      );
      // EjectMedia answers 204 when it won and when the slot was already empty (EPERM), 409 when busy
      assert.ok(
        webOff.every((r) => r.status === 204 || r.status === 409),
        webOff.map((r) => r.text).join('\n'),
      );
      assert.equal(await fx.bus.completion(path, seen + 2), 0, 'the winner ejects');
      await waitFor('no Unmount but the winner to complete', async () => {
        await new Promise((r) => setTimeout(r, 300)); // a second Completion would have arrived by now
        return true;
      });
      assert.deepEqual(fx.bus.completions(path).slice(seen), [0, 0], 'one Completion per operation that won');
      assert.equal(await active('Legacy', slot), false);
    } finally {
      fx.imageServer.switches.auth = auth;
    }
    await assertBackAtRest(fx, rest);
  });

  it('Proxy: two browsers and D-Bus Mounts race for /nbd/0 → one browser gets the slot (the other 4409); the state ends consistent', async () => {
    const slot = fx.slot('Slot_0');
    const path = slotPath('Proxy', slot.name);
    const [browsers, bus] = await Promise.all([
      Promise.all([connectBrowser(fx, slot.endpoint), connectBrowser(fx, slot.endpoint)]),
      Promise.all(clients.map((c) => busOutcome(c.call(path, IFACE.proxy, 'Mount')))),
    ]);
    const [first, second] = browsers;
    assert.ok(
      bus.every((o) => o === 'accepted' || REFUSED.has(o) || o === 'System.Error.ECONNREFUSED'),
      `D-Bus Mounts: ${bus.join(', ')}`,
    );
    const outcomes = await Promise.race([
      Promise.all([first.ended, second.ended]),
      new Promise<undefined>((r) => setTimeout(r, 2000, undefined)),
    ]);
    assert.equal(outcomes, undefined, 'one browser still holds the slot');
    const refused = [first, second].filter((b) => b.ws.readyState !== b.ws.OPEN);
    assert.equal(refused.length, 1, 'exactly one browser was turned away');
    assert.equal((await refused[0]!.ended).code, 4409);
    const holder = [first, second].find((b) => b.ws.readyState === b.ws.OPEN)!;
    // a D-Bus Mount that beat the bridge's own leaves the slot to the bridge's outcome: either way
    // the slot ends Active with the holder's image, or Ready with the holder's WebSocket closed
    const consistent = await waitFor('the slot and the browser to agree', async () => {
      const isActive = await active('Proxy', slot.name);
      const open = holder.ws.readyState === holder.ws.OPEN;
      return isActive === open ? { isActive } : undefined;
    });
    if (consistent.isActive) {
      assert.equal(await exportSha(slot.exportSocket, fx.image.bytes), fx.image.sha);
      const eject = await fx.request(`${VIRTUAL_MEDIA}/${slot.name}/Actions/VirtualMedia.EjectMedia`, {
        method: 'POST',
        auth: fx.stack.operator,
        body: {},
      });
      assert.equal(eject.status, 204, eject.text);
    }
    await holder.ended;
    await waitFor('the bridge to release the slot socket', () => !existsSync(slot.socket));
    assert.equal(await active('Proxy', slot.name), false);
    await assertBackAtRest(fx, rest);
  });

  it('all four slots active at once (two browsers, two Legacy mounts), read at once, ejected at once', async () => {
    const [proxy0, proxy1] = [fx.slot('Slot_0'), fx.slot('Slot_1')];
    const legacy3 = await fx.legacy('Slot_3');
    const proxyPaths = [proxy0, proxy1].map((s) => slotPath('Proxy', s.name));
    const seen = proxyPaths.map((p) => fx.bus.completions(p).length);
    const [browser0, browser1, inserted, mounted] = await Promise.all([
      connectBrowser(fx, proxy0.endpoint),
      connectBrowser(fx, proxy1.endpoint),
      fx.request(`${VIRTUAL_MEDIA}/Slot_2/Actions/VirtualMedia.InsertMedia`, {
        method: 'POST',
        auth: fx.stack.operator,
        body: { Image: fx.imageUrl, UserName: fx.secrets.imageUser, Password: fx.secrets.password },
      }),
      legacy3.mountWithPipe(fx.imageUrl, fx.secrets.imageUser, fx.secrets.password, 'sbv'),
    ]);
    assert.equal(inserted.status, 204, inserted.text);
    assert.equal(mounted, 0);
    for (const [i, p] of proxyPaths.entries()) assert.equal(await fx.bus.completion(p, seen[i]! + 1), 0);
    const shas = await Promise.all(fx.stack.slots.map((s) => exportSha(s.exportSocket, fx.image.bytes)));
    assert.deepEqual(shas, Array(4).fill(fx.image.sha), 'every slot serves the image');
    assert.equal(atRest(fx).nbdkit.length, 2, 'one nbdkit per Legacy slot');

    const ejects = await Promise.all(
      fx.stack.slots.map((s) =>
        fx.request(`${VIRTUAL_MEDIA}/${s.name}/Actions/VirtualMedia.EjectMedia`, {
          method: 'POST',
          auth: fx.stack.operator,
          body: {},
        }),
      ),
    );
    assert.deepEqual(
      ejects.map((r) => r.status),
      [204, 204, 204, 204],
    );
    assert.deepEqual(
      (await Promise.all([browser0.ended, browser1.ended])).map((e) => e.code),
      [1000, 1000],
    );
    for (const s of fx.stack.slots) await waitFor(`${s.name}'s socket removed`, () => !existsSync(s.socket));
    await assertBackAtRest(fx, rest);
  });

  it('no secret of these tests in any argv, environ, log line, HTTP response or D-Bus property', async () => {
    await assertSecretsKept(fx, 'Slot_3');
  });
});
