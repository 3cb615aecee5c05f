// The web's D-Bus link to the daemon under attack and failure: a Completion signal from any
// other bus peer is ignored (finding 9); a stopped daemon, a daemon that dies mid-operation
// and no daemon at all answer 503 ServiceTemporarilyUnavailable with Retry-After instead of
// hanging or 500 (finding 13); a restarted daemon is followed under its new unique name.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import dbus from 'dbus-next';
import { connectBus } from '../../src/dbus/connect.js';
import { BUS_NAME, IFACE, slotPath } from '../../src/dbus/names.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { startStack, type HttpResponse, type Stack } from '../helpers/stack.js';

const VM = '/redfish/v1/Managers/bmc/VirtualMedia';
const INSERT = `${VM}/Slot_2/Actions/VirtualMedia.InsertMedia`;
const CALL_TIMEOUT_MS = 1000;

/** An HTTP "image server" that accepts connections and never answers: a Mount stays pending. */
async function startSilentServer(): Promise<{ url: string; cut(): void; close(): Promise<void> }> {
  const held = new Set<Socket>();
  const server: Server = createServer((s) => held.add(s.on('close', () => held.delete(s))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cut = () => {
    for (const s of held) s.destroy();
  };
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/boot.iso`,
    cut,
    close: () => {
      cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The unique bus name of the process with this pid. */
async function uniqueNameOf(bus: dbus.MessageBus, pid: number): Promise<string> {
  const call = (member: string, signature = '', body: unknown[] = []) =>
    bus.call(
      new dbus.Message({
        destination: 'org.freedesktop.DBus',
        path: '/org/freedesktop/DBus',
        interface: 'org.freedesktop.DBus',
        member,
        signature,
        body,
      }),
    );
  const names = ((await call('ListNames'))?.body[0] as string[]).filter((n) => n.startsWith(':'));
  for (const name of names) {
    const owner = await call('GetConnectionUnixProcessID', 's', [name]).catch(() => undefined);
    if (owner?.body[0] === pid) return name;
  }
  throw new Error(`no bus connection of pid ${pid}`);
}

/** Waits until the daemon shows `url` as Slot_2's ImageURL: its Mount was accepted and runs. */
async function mountStarted(bus: dbus.MessageBus, url: string): Promise<void> {
  for (const deadline = Date.now() + 5000; Date.now() < deadline;) {
    const reply = await bus.call(
      new dbus.Message({
        destination: BUS_NAME,
        path: slotPath('Legacy', 'Slot_2'),
        interface: IFACE.properties,
        member: 'Get',
        signature: 'ss',
        body: [IFACE.mountPoint, 'ImageURL'],
      }),
    );
    if ((reply?.body[0] as dbus.Variant | undefined)?.value === url) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`Slot_2 did not start mounting ${url}`);
}

/** Resolves with the response, or with undefined when none came within `ms`. */
function within(ms: number, response: Promise<HttpResponse>): Promise<HttpResponse | undefined> {
  return Promise.race([response, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms))]);
}

describe('the web and the daemon on the bus', { timeout: 60_000 }, () => {
  let stack: Stack;
  let restarted: RunningDaemon | undefined;
  let silent: Awaited<ReturnType<typeof startSilentServer>>;
  /** Another connection on the bus: the spoofer, and the test's view of the daemon. */
  let peer: dbus.MessageBus;
  const insert = (Image: string) => stack.request(INSERT, { method: 'POST', auth: stack.admin, body: { Image } });
  const expectUnavailable = (r: HttpResponse | undefined, what: string) => {
    assert.ok(r, `${what}: no answer`);
    assert.equal(r.status, 503, `${what}: ${r.text}`);
    assert.equal(r.json.error.code, 'Base.1.19.0.ServiceTemporarilyUnavailable', r.text);
    assert.match(String(r.headers['retry-after']), /^\d+$/, 'Retry-After in seconds');
    assert.doesNotMatch(r.text, /\n\s+at /, 'no stack trace');
  };

  before(async () => {
    silent = await startSilentServer();
    stack = await startStack({ slotTimeout: 2, webEnv: { VMEDIA_DBUS_TIMEOUT_MS: String(CALL_TIMEOUT_MS) } });
    peer = await connectBus(stack.busAddress);
  });
  after(async () => {
    peer?.disconnect();
    await restarted?.stop();
    await stack?.stop();
    await silent?.close();
  });

  it('ignores a Completion sent by another bus peer, broadcast or addressed to the web', async () => {
    const web = await uniqueNameOf(peer, stack.webPid);
    const pending = insert(silent.url);
    await mountStarted(peer, silent.url);
    for (const destination of [undefined, web]) {
      peer.send(
        new dbus.Message({
          type: dbus.MessageType.SIGNAL,
          ...(destination ? { destination } : {}),
          path: slotPath('Legacy', 'Slot_2'),
          interface: IFACE.legacy,
          member: 'Completion',
          signature: 'i',
          body: [0],
        }),
      );
    }
    assert.equal(await within(500, pending), undefined, 'InsertMedia answered after a spoofed Completion');
    silent.cut(); // now the daemon's own Completion: the mount failed
    const r = await pending;
    assert.ok(r.status >= 400, `the real outcome is a failure: ${r.status} ${r.text}`);
  });

  it('answers 503 with Retry-After while the daemon is stopped (SIGSTOP), and recovers', async () => {
    process.kill(stack.daemon.pid, 'SIGSTOP');
    try {
      const started = Date.now();
      expectUnavailable(await within(CALL_TIMEOUT_MS + 3000, stack.request(VM, { auth: stack.admin })), 'GET');
      assert.ok(Date.now() - started >= CALL_TIMEOUT_MS - 100, 'answered after the call timeout');
      expectUnavailable(await within(CALL_TIMEOUT_MS + 3000, insert(silent.url)), 'InsertMedia');
    } finally {
      process.kill(stack.daemon.pid, 'SIGCONT');
    }
    assert.equal((await stack.request(VM, { auth: stack.admin })).status, 200);
  });

  it('answers 503 when the daemon dies mid-operation or is absent; follows the restarted daemon', async () => {
    const config: unknown = JSON.parse(readFileSync(stack.daemon.configPath, 'utf8'));
    const pending = insert(silent.url);
    await mountStarted(peer, silent.url);
    process.kill(stack.daemon.pid, 'SIGKILL');
    expectUnavailable(await within(3000, pending), 'InsertMedia while the daemon died');
    await stack.daemon.exited;
    expectUnavailable(await stack.request(`${VM}/Slot_2`, { auth: stack.admin }), 'GET without a daemon');

    restarted = await startDaemon({ config: config as object, busAddress: stack.busAddress });
    // the new daemon's Completion (a refused connection) is believed: 400, not a timeout
    const r = await insert('http://127.0.0.1:1/boot.iso');
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.code, 'Base.1.19.0.CouldNotEstablishConnection');
  });
});
