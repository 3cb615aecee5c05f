// The WebSocket NBD bridge end to end: a `ws` client serving a 256 MiB image as NBD over
// /nbd/0, the daemon (export backend) mounting it, nbdcopy reading the slot's ExportSocket.
import assert from 'node:assert/strict';
import { exec, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { IFACE, slotPath } from '../../src/dbus/names.js';
import { BusClient } from '../daemon/bus-client.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { WebSocket } from 'ws';
import { basicAuth, connectWsNbdServer } from './ws-nbd-server.js';

const run = promisify(exec);
const IMAGE_BYTES = 256 * 1024 * 1024;

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The Proxy Mount/Unmount calls on the bus, as dbus-monitor sees them ("Unmount Slot_0"), and the
 * error replies (their names) of every call.
 */
async function watchProxyCalls(address: string): Promise<{ calls(): string[]; errors(): string[]; stop(): void }> {
  const monitor = spawn('dbus-monitor', [
    '--address',
    address,
    `type='method_call',interface='${IFACE.proxy}'`,
    "type='error'",
  ]);
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    monitor.once('error', reject);
    monitor.stdout.on('data', (d: Buffer) => {
      seen += d.toString();
      resolve(); // its first line (NameAcquired) says it is monitoring
    });
  });
  return {
    calls: () =>
      [...seen.matchAll(/path=[^;]*\/(\w+); interface=([^;]+); member=(\w+)/g)]
        .filter((m) => m[2] === IFACE.proxy)
        .map((m) => `${m[3]} ${m[1]}`),
    errors: () => [...seen.matchAll(/^error .* error_name=(\S+)/gm)].map((m) => m[1]!),
    stop: () => monitor.kill(),
  };
}

/**
 * Listens on a Proxy slot's socket in the bridge's place, to hold the connection of the daemon's
 * NBD client: its handshake waits (paused) while the test lets a browser reach the bridge. Bound
 * elsewhere and renamed into place, so that closing it unlinks nothing the bridge made since.
 */
async function holdSlotSocket(socket: string): Promise<{ connection: Promise<Socket>; close(): void }> {
  const bound = `${socket}.held`;
  let take!: (c: Socket) => void;
  const connection = new Promise<Socket>((resolve) => (take = resolve));
  const server = createServer({ pauseOnConnect: true }, (c) => take(c));
  await new Promise<void>((resolve) => server.listen(bound, resolve));
  renameSync(bound, socket);
  return {
    connection,
    close: () => {
      server.close();
      void connection.then((c) => c.destroy());
    },
  };
}

describe('WebSocket NBD bridge', { timeout: 120_000 }, () => {
  let stack: Stack;
  let dir: string;
  let image: string;
  let imageSha: string;

  const inserted = async (slot: string) =>
    (await stack.request(`/redfish/v1/Managers/bmc/VirtualMedia/${slot}`, { auth: stack.admin })).json
      .Inserted as boolean;
  const wsUrl = (n: number) => `wss://127.0.0.1:${stack.port}/nbd/${n}`;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vmedia-bridge-'));
    image = path.join(dir, 'image.img');
    await run(`head -c ${IMAGE_BYTES} /dev/urandom > ${image}`);
    imageSha = await sha256File(image);
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses the upgrade without credentials or with wrong ones (401), for read-only users (403), for unknown endpoints (404)', async () => {
    const none = await connectWsNbdServer(wsUrl(0), { ca: stack.ca, image });
    assert.deepEqual(await none.ended, { status: 401 });
    const wrong = await connectWsNbdServer(wsUrl(0), {
      ca: stack.ca,
      image,
      headers: basicAuth(stack.admin.user, 'not-it'),
    });
    assert.deepEqual(await wrong.ended, { status: 401 });
    const reader = await connectWsNbdServer(wsUrl(0), {
      ca: stack.ca,
      image,
      headers: basicAuth(stack.readOnly.user, stack.readOnly.password),
    });
    assert.deepEqual(await reader.ended, { status: 403 });
    const session = await stack.request('/redfish/v1/SessionService/Sessions', {
      method: 'POST',
      body: { UserName: stack.readOnly.user, Password: stack.readOnly.password },
    });
    const readerToken = await connectWsNbdServer(wsUrl(0), {
      ca: stack.ca,
      image,
      headers: { 'X-Auth-Token': session.headers['x-auth-token'] as string },
    });
    assert.deepEqual(await readerToken.ended, { status: 403 }, 'X-Auth-Token identifies the (read-only) user');
    const badToken = await connectWsNbdServer(wsUrl(0), { ca: stack.ca, image, headers: { 'X-Auth-Token': 'forged' } });
    assert.deepEqual(await badToken.ended, { status: 401 });
    const nowhere = await connectWsNbdServer(`wss://127.0.0.1:${stack.port}/nbd/7`, {
      ca: stack.ca,
      image,
      headers: basicAuth(stack.admin.user, stack.admin.password),
    });
    assert.deepEqual(await nowhere.ended, { status: 404 });
    assert.equal(await inserted('Slot_0'), false);
  });

  it('serves the 256 MiB image through /nbd/0 to nbdcopy on the ExportSocket, and refuses a second client', async () => {
    const browser = await connectWsNbdServer(wsUrl(0), {
      ca: stack.ca,
      image,
      headers: basicAuth(stack.operator.user, stack.operator.password),
    });
    await until('Slot_0 inserted', async () => ((await inserted('Slot_0')) ? true : undefined));

    const second = await connectWsNbdServer(wsUrl(0), {
      ca: stack.ca,
      image,
      headers: basicAuth(stack.admin.user, stack.admin.password),
    });
    const refused = await second.ended;
    assert.equal(refused.code, 4409);
    assert.match(refused.reason ?? '', /Slot_0 is already in use/);

    const slot = stack.slots[0]!;
    const started = Date.now();
    const { stdout } = await run(`nbdcopy 'nbd+unix:///?socket=${slot.exportSocket}' - | sha256sum`, {
      maxBuffer: 1024,
    });
    const seconds = (Date.now() - started) / 1000;
    assert.equal(stdout.split(' ')[0], imageSha);
    process.stderr.write(`bridge: 256 MiB in ${seconds.toFixed(1)} s (${(256 / seconds).toFixed(0)} MiB/s)\n`);

    browser.ws.close();
    await browser.ended;
    await until('Slot_0 ejected', async () => ((await inserted('Slot_0')) ? undefined : true));
    await until('socket removed', async () => (existsSync(slot.socket) ? undefined : true));
  });

  it('takes cookie auth with the XSRF token as subprotocol, and refuses the cookie without it', async () => {
    const login = await stack.request('/login', {
      method: 'POST',
      body: { username: stack.operator.user, password: stack.operator.password },
    });
    assert.equal(login.status, 200);
    const cookies = (login.headers['set-cookie'] as string[]).map((c) => c.split(';')[0]).join('; ');
    const token = login.json.token as string;

    const noToken = await connectWsNbdServer(wsUrl(1), { ca: stack.ca, image, headers: { Cookie: cookies } });
    assert.deepEqual(await noToken.ended, { status: 401 });

    const browser = await connectWsNbdServer(wsUrl(1), {
      ca: stack.ca,
      image,
      headers: { Cookie: cookies },
      protocols: [token],
    });
    assert.equal(browser.protocol, token);
    await until('Slot_1 inserted', async () => ((await inserted('Slot_1')) ? true : undefined));
    const { stdout } = await run(`nbdinfo --size 'nbd+unix:///?socket=${stack.slots[1]!.exportSocket}'`);
    assert.equal(Number(stdout.trim()), IMAGE_BYTES);
    browser.ws.close();
    await until('Slot_1 ejected', async () => ((await inserted('Slot_1')) ? undefined : true));
  });

  it('puts the slot back to Ready and removes the socket when the client drops mid-transfer', async () => {
    const browser = await connectWsNbdServer(wsUrl(0), {
      ca: stack.ca,
      image,
      headers: basicAuth(stack.admin.user, stack.admin.password),
    });
    await until('Slot_0 inserted', async () => ((await inserted('Slot_0')) ? true : undefined));
    const slot = stack.slots[0]!;
    const copy = run(`nbdcopy 'nbd+unix:///?socket=${slot.exportSocket}' - | wc -c`);
    await new Promise((r) => setTimeout(r, 300));
    browser.ws.terminate();
    const copied = await copy.then(
      (r) => Number(r.stdout.trim()),
      () => -1,
    );
    assert.ok(copied < IMAGE_BYTES, `the copy must not complete after the drop (got ${copied} bytes)`);
    await until('Slot_0 ejected', async () => ((await inserted('Slot_0')) ? undefined : true));
    await until('socket removed', async () => (existsSync(slot.socket) ? undefined : true));

    // Ready again: a new client mounts the slot
    const again = await connectWsNbdServer(wsUrl(0), {
      ca: stack.ca,
      image,
      headers: basicAuth(stack.admin.user, stack.admin.password),
    });
    await until('Slot_0 inserted again', async () => ((await inserted('Slot_0')) ? true : undefined));
    const eject = await stack.request('/redfish/v1/Managers/bmc/VirtualMedia/Slot_0/Actions/VirtualMedia.EjectMedia', {
      method: 'POST',
      auth: stack.admin,
      body: {},
    });
    assert.equal(eject.status, 204);
    const ended = await again.ended;
    assert.equal(ended.code, 1000);
    assert.equal(await inserted('Slot_0'), false);
  });

  it('a client gone while Active ends the mount as lost (Completion ECONNREFUSED) without an Unmount racing it; EjectMedia completes with 0', async () => {
    const bus = await BusClient.connect(stack.busAddress);
    const proxyCalls = await watchProxyCalls(stack.busAddress);
    const path0 = slotPath('Proxy', 'Slot_0');
    try {
      const before = bus.completions(path0).length;
      const browser = await connectWsNbdServer(wsUrl(0), {
        ca: stack.ca,
        image,
        headers: basicAuth(stack.admin.user, stack.admin.password),
      });
      assert.equal(await bus.completion(path0, before + 1), 0, 'mounted');
      browser.ws.terminate(); // what a SIGKILLed browser looks like
      assert.equal(await bus.completion(path0, before + 2), 111, 'the mount ended as lost');
      await until('socket removed', async () => (existsSync(stack.slots[0]!.socket) ? undefined : true));
      assert.deepEqual(proxyCalls.calls(), ['Mount Slot_0'], 'no Unmount after the client left');

      const again = await connectWsNbdServer(wsUrl(0), {
        ca: stack.ca,
        image,
        headers: basicAuth(stack.admin.user, stack.admin.password),
      });
      assert.equal(await bus.completion(path0, before + 3), 0, 'mounted again');
      const eject = await stack.request(
        '/redfish/v1/Managers/bmc/VirtualMedia/Slot_0/Actions/VirtualMedia.EjectMedia',
        {
          method: 'POST',
          auth: stack.admin,
          body: {},
        },
      );
      assert.equal(eject.status, 204);
      assert.equal(await bus.completion(path0, before + 4), 0, 'a requested eject completes with 0');
      assert.equal((await again.ended).code, 1000);
    } finally {
      proxyCalls.stop();
      bus.close();
    }
  });

  it('reports why a client that never sent NBD went away: a text frame, or closing at once', async () => {
    const bridgeLines = (slot: string) =>
      stack
        .webOutput()
        .split('\n')
        .filter((l) => l.includes(`"slot":"${slot}"`) && /ended before|mount failed/.test(l));
    const logged = (slot: string) =>
      until(`a log line on why ${slot}'s client left`, async () => bridgeLines(slot).at(-1));
    const connect = () =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(wsUrl(1), {
          ca: stack.ca,
          headers: basicAuth(stack.admin.user, stack.admin.password),
        });
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });

    const texter = await connect();
    texter.send('hello');
    texter.close();
    const text = await logged('Slot_1');
    assert.match(text, /text frame/);
    assert.doesNotMatch(text, /did not finish within/);
    await until('Slot_1 released', async () => (existsSync(stack.slots[1]!.socket) ? undefined : true));

    const count = bridgeLines('Slot_1').length;
    (await connect()).close();
    await until('a second log line', async () => (bridgeLines('Slot_1').length > count ? true : undefined));
    assert.match(bridgeLines('Slot_1').at(-1)!, /closed the connection/);
  });
  it("a D-Bus client's Mount that got the slot first: the browser serves it once it reaches the bridge; when it fails, the bridge mounts again", async () => {
    const slot = stack.slots[0]!;
    const path0 = slotPath('Proxy', 'Slot_0');
    const bus = await BusClient.connect(stack.busAddress);
    const watch = await watchProxyCalls(stack.busAddress);
    const admin = basicAuth(stack.admin.user, stack.admin.password);
    const holders: Awaited<ReturnType<typeof holdSlotSocket>>[] = [];
    const ejectThrough = async (browser: Awaited<ReturnType<typeof connectWsNbdServer>>) => {
      const { stdout } = await run(`nbdinfo --size 'nbd+unix:///?socket=${slot.exportSocket}'`);
      assert.equal(Number(stdout.trim()), IMAGE_BYTES, "the browser's image is on the slot");
      assert.equal(browser.ws.readyState, WebSocket.OPEN, 'the browser holds the slot');
      const eject = await stack.request(
        '/redfish/v1/Managers/bmc/VirtualMedia/Slot_0/Actions/VirtualMedia.EjectMedia',
        {
          method: 'POST',
          auth: stack.admin,
          body: {},
        },
      );
      assert.equal(eject.status, 204, eject.text);
      assert.equal((await browser.ended).code, 1000);
      await until('socket removed', async () => (existsSync(slot.socket) ? undefined : true));
    };
    try {
      // the other Mount's NBD client connected before the bridge listened; relayed to the bridge, it
      // is the browser's to serve, as if it had connected a moment later
      let seen = bus.completions(path0).length;
      const held = await holdSlotSocket(slot.socket);
      holders.push(held);
      const heldIno = statSync(slot.socket).ino;
      assert.deepEqual(await bus.call(path0, IFACE.proxy, 'Mount'), [true]);
      const daemonSide = await held.connection;
      const browser = await connectWsNbdServer(wsUrl(0), { ca: stack.ca, image, headers: admin });
      await until('the bridge to listen', async () => {
        const ino = existsSync(slot.socket) ? statSync(slot.socket, { throwIfNoEntry: false })?.ino : undefined;
        return ino !== undefined && ino !== heldIno ? true : undefined;
      });
      const toBridge = connect(slot.socket);
      daemonSide.pipe(toBridge).pipe(daemonSide);
      daemonSide.resume();
      assert.equal(
        await bus.completion(path0, seen + 1),
        0,
        "the other client's Mount completes, served by the browser",
      );
      await ejectThrough(browser);
      assert.equal(bus.completions(path0).length, seen + 2, 'one mount, one eject');

      // the other Mount fails after the bridge's was refused: the slot is free, the bridge mounts
      seen = bus.completions(path0).length;
      const refusals = watch.errors().filter((e) => e === 'System.Error.EBUSY').length;
      const mounts = () => watch.calls().filter((c) => c === 'Mount Slot_0').length;
      const mountsBefore = mounts();
      const heldAgain = await holdSlotSocket(slot.socket);
      holders.push(heldAgain);
      assert.deepEqual(await bus.call(path0, IFACE.proxy, 'Mount'), [true]);
      const doomed = await heldAgain.connection;
      const second = await connectWsNbdServer(wsUrl(0), { ca: stack.ca, image, headers: admin });
      await until("the bridge's Mount refused (EBUSY)", async () =>
        watch.errors().filter((e) => e === 'System.Error.EBUSY').length > refusals ? true : undefined,
      );
      doomed.destroy();
      assert.equal(await bus.completion(path0, seen + 1), 111, "the other client's Mount failed");
      assert.equal(await bus.completion(path0, seen + 2), 0, "the bridge's second Mount succeeded");
      // dbus-monitor prints a little later: the other client's Mount, then the bridge's two
      await until('three Mount calls seen', async () => (mounts() - mountsBefore >= 3 ? true : undefined));
      assert.equal(mounts() - mountsBefore, 3, 'the bridge mounted twice');
      await ejectThrough(second);
    } finally {
      for (const held of holders) held.close();
      watch.stop();
      bus.close();
    }
  });
});
