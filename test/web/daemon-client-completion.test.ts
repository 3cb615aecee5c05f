// Which Completion the web takes for its own Mount. Two clients race for one slot: another
// client's Mount is running, it fails (Completion(ECONNREFUSED)) just as the web's Mount arrives,
// and the daemon then accepts the web's. The failure went out before the web's reply, the web's
// own outcome after it; the web must wait for the latter. CI saw a browser's bridge take the
// other client's ECONNREFUSED for its own (test/reliability/concurrency.test.ts), a timing a real
// daemon gives too rarely to test on, so a peer on a real bus owns the daemon's name here and
// sends the messages in exactly that order.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import dbus from 'dbus-next';
import { connectBus } from '../../src/dbus/connect.js';
import { BUS_NAME, IFACE, slotPath } from '../../src/dbus/names.js';
import { errnoNumber } from '../../src/errno.js';
import { DaemonClient, type SlotState } from '../../src/web/daemon/client.js';
import { startTestBus, type TestBus } from '../helpers/private-bus.js';

const SLOT: SlotState = {
  name: 'Slot_0',
  mode: 'Proxy',
  path: slotPath('Proxy', 'Slot_0'),
  endpointId: '/nbd/0',
  socket: '',
  imageUrl: '',
  writeProtected: true,
  timeout: 1,
  active: false,
  exitCode: 0,
  readBytes: 0,
  writtenBytes: 0,
  schemes: [],
};
const ECONNREFUSED = errnoNumber('ECONNREFUSED');

describe("the web's Mount takes the Completion that follows its reply", { timeout: 30_000 }, () => {
  let testBus: TestBus;
  let daemon: dbus.MessageBus;
  let client: DaemonClient;
  /** What the stand-in daemon sends around its reply to the next Mount, in this order. */
  let script: ('earlier-failure' | 'reply' | 'own-success')[] = [];

  const completion = (errno: number) =>
    new dbus.Message({
      type: dbus.MessageType.SIGNAL,
      path: SLOT.path,
      interface: IFACE.proxy,
      member: 'Completion',
      signature: 'i',
      body: [errno],
    });

  before(async () => {
    testBus = await startTestBus();
    daemon = await connectBus(testBus.address);
    assert.equal(await daemon.requestName(BUS_NAME, dbus.NameFlag.DO_NOT_QUEUE), dbus.RequestNameReply.PRIMARY_OWNER);
    daemon.addMethodHandler((msg: dbus.Message) => {
      if (msg.path !== SLOT.path || msg.interface !== IFACE.proxy || msg.member !== 'Mount') return false;
      for (const step of script) {
        if (step === 'earlier-failure') daemon.send(completion(ECONNREFUSED));
        if (step === 'reply') daemon.send(dbus.Message.newMethodReturn(msg, 'b', [true]));
        if (step === 'own-success') daemon.send(completion(0));
      }
      return true;
    });
    client = await DaemonClient.connect(testBus.address);
  });
  after(async () => {
    client?.disconnect();
    daemon?.disconnect();
    await testBus?.stop();
  });

  it("another client's failure sent just before the reply is not the web's outcome", async () => {
    script = ['earlier-failure', 'reply', 'own-success'];
    assert.equal(await client.operate(SLOT, 'Mount', undefined, 5000), 0);
  });

  it('the first Completion after the reply is the outcome, whatever follows', async () => {
    script = ['reply', 'earlier-failure', 'own-success'];
    assert.equal(await client.operate(SLOT, 'Mount', undefined, 5000), ECONNREFUSED);
  });

  it('a Completion only before the reply leaves the web waiting until its deadline', async () => {
    script = ['earlier-failure', 'reply'];
    await assert.rejects(client.operate(SLOT, 'Mount', undefined, 300), /no Completion from Slot_0 within 300 ms/);
  });
});
