// Hostile bus peers against the daemon and the web, both on the private bus with Slot_2 mounted.
// Finding 1: a message whose unix-fd argument (h) points past the fds it carries made dbus-next
// throw "No FDs available" in its socket handler and the process exit: any local user could end
// the web with a signal addressed to it, or the daemon (and the host's disk) with a method call.
// Finding 5: received fds were closed only by Legacy Mount; wrong signatures, unknown methods
// and objects, Properties calls, signals and a UDP socket as the credentials fd leaked theirs.
// The patched dbus-next (patches/) drops an unreadable message, answering a method call with
// InvalidArgs, and closes every received fd no handler took.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BUS_NAME, IFACE, ROOT_PATH, slotPath } from '../../src/dbus/names.js';
import { uniqueNamesOf } from '../helpers/bus-peers.js';
import { RawBus, type RawArg, type RawMessage } from '../helpers/raw-bus.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { startImageServer, type ImageServer } from '../sources/helpers/image-server.js';

const run = promisify(execFile);
const SEND_FDS = fileURLToPath(new URL('./send-fds.py', import.meta.url));
const SLOT2 = '/redfish/v1/Managers/bmc/VirtualMedia/Slot_2';
const IMAGE_BYTES = 1024 * 1024;
/** An fd argument pointing at fd 0 of the message, which carries none. */
const NO_FD: RawArg = { type: 'h', index: 0 };
/** No UNIX_FDS header, and UNIX_FDS = 0: the bus forwards both (UNIX_FDS = 1 it holds back). */
const FD_HEADERS = [undefined, 0] as const;
/** send-fds.py sends 13 kinds of message per round: 77 rounds are 1001 messages. */
const FD_ROUNDS = 77;
/** Lazily opened files (a log, a timer fd) may appear once; a leak shows as hundreds. */
const FD_TOLERANCE = 5;

let stack: Stack;
let server: ImageServer;
let dir: string;
let raw: RawBus;
let imageUrl: string;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vmedia-peers-'));
  const image = path.join(dir, 'boot.iso');
  writeFileSync(image, Buffer.alloc(IMAGE_BYTES, 0x5a));
  server = await startImageServer({ files: new Map([['/images/boot.iso', image]]) });
  stack = await startStack();
  imageUrl = `${server.origin}/images/boot.iso`;
  const insert = await stack.request(`${SLOT2}/Actions/VirtualMedia.InsertMedia`, {
    method: 'POST',
    auth: stack.admin,
    body: { Image: imageUrl },
  });
  assert.equal(insert.status, 204, insert.text);
  raw = await RawBus.connect(stack.busAddress);
});

after(async () => {
  raw?.close();
  await stack?.stop();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Both processes run, the daemon answers on the bus, the web over HTTPS, and Slot_2 is served. */
async function assertServing(): Promise<void> {
  for (const [what, pid] of [
    ['daemon', stack.daemon.pid],
    ['web', stack.webPid],
  ] as const) {
    assert.doesNotThrow(() => process.kill(pid, 0), `the ${what} is running`);
  }
  const managed = await raw.call({
    destination: BUS_NAME,
    path: ROOT_PATH,
    interface: IFACE.objectManager,
    member: 'GetManagedObjects',
    body: [],
  });
  assert.equal(managed.type, 'return', `GetManagedObjects: ${managed.errorName}`);
  const slot = await stack.request(SLOT2, { auth: stack.admin });
  assert.equal(slot.status, 200, slot.text);
  assert.equal(slot.json.Inserted, true);
  assert.equal(slot.json.Image, imageUrl);
  const { stdout } = await run('nbdinfo', ['--size', `nbd+unix:///?socket=${stack.slots[2]!.exportSocket}`]);
  assert.equal(Number(stdout.trim()), IMAGE_BYTES, 'the mounted image is still served');
}

const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

/** Runs send-fds.py; returns how many messages it sent and the replies per kind. */
async function sendFds(rounds: number): Promise<{ messages: number; seen: Record<string, Record<string, number>> }> {
  const [web] = await uniqueNamesOf(stack.busAddress, stack.webPid);
  assert.ok(web, 'the web is on the bus');
  const { stdout } = await run('/usr/bin/python3', [SEND_FDS, stack.busAddress, web, String(rounds)]);
  return JSON.parse(stdout) as { messages: number; seen: Record<string, Record<string, number>> };
}

test('a signal addressed to the web with an fd argument and no fd is dropped; the web serves on', async () => {
  const names = await uniqueNamesOf(stack.busAddress, stack.webPid);
  assert.ok(names.length > 0, 'the web is on the bus');
  for (const destination of names) {
    for (const unixFds of FD_HEADERS) {
      raw.send({
        kind: 'signal',
        destination,
        path: slotPath('Legacy', 'Slot_2'),
        interface: IFACE.legacy,
        member: 'Completion',
        body: [NO_FD],
        unixFds,
      });
    }
  }
  await assertServing();
});

test('method calls to the daemon with an fd argument and no fd are refused with InvalidArgs; the daemon serves on', async () => {
  const calls: Omit<RawMessage, 'unixFds' | 'kind' | 'destination'>[] = [
    {
      path: slotPath('Legacy', 'Slot_2'),
      interface: IFACE.legacy,
      member: 'Mount',
      body: [{ type: 's', value: imageUrl }, { type: 'b', value: false }, NO_FD],
    },
    {
      path: slotPath('Legacy', 'Slot_3'),
      interface: IFACE.legacy,
      member: 'Mount',
      body: [
        { type: 's', value: imageUrl },
        { type: 'b', value: false },
        { type: 'v', value: NO_FD },
      ],
    },
    { path: slotPath('Proxy', 'Slot_0'), interface: IFACE.proxy, member: 'Mount', body: [NO_FD] },
  ];
  for (const call of calls) {
    for (const unixFds of FD_HEADERS) {
      const reply = await raw.call({ ...call, destination: BUS_NAME, unixFds });
      assert.equal(reply.errorName, 'org.freedesktop.DBus.Error.InvalidArgs', `${call.path} ${call.member}`);
    }
  }
  await assertServing();
});

test('1000 messages carrying fds nobody keeps leave the daemon and the web with the fds they had', async () => {
  await sendFds(1); // warm-up: whatever each path opens once
  const before = { daemon: fdCount(stack.daemon.pid), web: fdCount(stack.webPid) };
  const { messages, seen } = await sendFds(FD_ROUNDS);
  const after = { daemon: fdCount(stack.daemon.pid), web: fdCount(stack.webPid) };

  assert.ok(messages >= 1000, `${messages} messages`);
  // refused, each the way it should be, rather than taken and kept
  assert.deepEqual(seen['daemon: unknown method'], { 'org.freedesktop.DBus.Error.UnknownMethod': FD_ROUNDS });
  assert.deepEqual(seen['daemon: Mount(sbh) with a UDP socket'], { 'System.Error.EINVAL': FD_ROUNDS });
  assert.deepEqual(seen['daemon: Mount(sbv) with an empty pipe'], { 'System.Error.EINVAL': FD_ROUNDS });
  assert.deepEqual(seen['daemon: Mount(sbv) with v = ah'], { 'System.Error.EINVAL': FD_ROUNDS });
  assert.deepEqual(seen['web: method call'], { 'org.freedesktop.DBus.Error.UnknownMethod': FD_ROUNDS });
  assert.ok(after.daemon - before.daemon <= FD_TOLERANCE, `daemon fds ${before.daemon} → ${after.daemon}`);
  assert.ok(after.web - before.web <= FD_TOLERANCE, `web fds ${before.web} → ${after.web}`);
  await assertServing();
});
