// bmcweb finds the daemon through phosphor-objmgr's ObjectMapper, which knows a service only by
// introspecting it: from "/", each node's <interface> names are recorded for its path and each
// child <node> is introspected in turn. This walks our daemon the same way and answers the
// mapper's GetObject / GetSubTree from what it found, as bmcweb asks them (virtual_media.hpp:
// GetObject on /xyz/openbmc_project/VirtualMedia for the service, then its slots with the
// MountPoint and Process interfaces, and Proxy or Legacy for the calls it makes).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BUS_NAME, IFACE, ROOT_PATH, slotPath } from '../../src/dbus/names.js';
import type { BusClient } from './bus-client.js';
import { startExportDaemon, type ExportDaemon } from './export-daemon.js';

const INTROSPECT_TIMEOUT_MS = 20_000;

/** path → interfaces, for one service: the mapper's interface map. */
type InterfaceMap = Map<string, Set<string>>;

const SLOTS = [
  { name: 'Slot_0', mode: 'Proxy' },
  { name: 'Slot_1', mode: 'Proxy' },
  { name: 'Slot_2', mode: 'Legacy' },
  { name: 'Slot_3', mode: 'Legacy' },
] as const;

let started: ExportDaemon | undefined;
let client: BusClient;
let map: InterfaceMap;

before(async () => {
  started = await startExportDaemon({
    MountPoints: Object.fromEntries(
      SLOTS.map((s, i) => [
        s.name,
        {
          EndpointId: s.mode === 'Proxy' ? `/nbd/${i}` : '',
          Mode: s.mode === 'Proxy' ? 0 : 1,
          NBDDevice: `nbd${i}`,
          UnixSocket: `nbd${i}.sock`,
          Timeout: 30,
        },
      ]),
    ),
  });
  client = started.client;
  map = await introspectService(client, BUS_NAME);
});

after(async () => {
  await started?.stop();
});

/** The mapper's walk: Introspect from "/", record each path's interfaces, descend into child nodes. */
async function introspectService(client: BusClient, service: string): Promise<InterfaceMap> {
  const found: InterfaceMap = new Map();
  const visit = async (objectPath: string): Promise<void> => {
    // a silent service fails the walk with its path instead of hanging it (the mapper times out too)
    const [xml] = await Promise.race([
      client.callOn(service, objectPath, 'org.freedesktop.DBus.Introspectable', 'Introspect'),
      sleep(INTROSPECT_TIMEOUT_MS, undefined, { ref: false }).then(() => {
        throw new Error(`no answer to Introspect of ${objectPath} within ${INTROSPECT_TIMEOUT_MS} ms`);
      }),
    ]);
    assert.equal(typeof xml, 'string', `Introspect of ${objectPath} returns XML`);
    const text = xml as string;
    const interfaces = [...text.matchAll(/<interface\s+name="([^"]+)"/g)].map((m) => m[1]!);
    if (interfaces.length > 0) found.set(objectPath, new Set(interfaces));
    // child nodes are named relative to this one; the document's own root <node> is unnamed or absolute
    const children = [...text.matchAll(/<node\s+name="([^"/][^"]*)"/g)].map((m) => m[1]!);
    for (const child of children) await visit(objectPath === '/' ? `/${child}` : `${objectPath}/${child}`);
  };
  await visit('/');
  return found;
}

/** Mapper GetObject(path, interfaces): the service, with the matching interfaces (all if none asked). */
function getObject(path: string, interfaces: string[]): Record<string, string[]> {
  const have = map.get(path);
  const matching = [...(have ?? [])].filter((i) => interfaces.length === 0 || interfaces.includes(i));
  if (matching.length === 0) throw new Error(`xyz.openbmc_project.Common.Error.ResourceNotFound: ${path}`);
  return { [BUS_NAME]: matching.sort() };
}

/** Mapper GetSubTree(subtree, depth 0 = unlimited, interfaces): the paths below with a matching interface. */
function getSubTree(subtree: string, depth: number, interfaces: string[]): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  for (const [objectPath, have] of map) {
    if (!objectPath.startsWith(`${subtree}/`)) continue;
    if (depth > 0 && objectPath.slice(subtree.length + 1).split('/').length > depth) continue;
    const matching = [...have].filter((i) => interfaces.length === 0 || interfaces.includes(i));
    if (matching.length > 0) out[objectPath] = { [BUS_NAME]: matching.sort() };
  }
  return out;
}

test('GetObject on the VirtualMedia root names our service with the ObjectManager bmcweb then calls', () => {
  const object = getObject(ROOT_PATH, []);
  assert.deepEqual(Object.keys(object), [BUS_NAME]);
  assert.ok(object[BUS_NAME]!.includes(IFACE.objectManager), `ObjectManager at ${ROOT_PATH}`);
});

test('GetSubTree finds every slot, Proxy and Legacy, with every interface bmcweb looks for', () => {
  const tree = getSubTree(ROOT_PATH, 0, [IFACE.mountPoint]);
  assert.deepEqual(Object.keys(tree).sort(), SLOTS.map((s) => slotPath(s.mode, s.name)).sort());
  for (const slot of SLOTS) {
    const objectPath = slotPath(slot.mode, slot.name);
    const ifaces = getObject(objectPath, [])[BUS_NAME]!;
    const expected = [
      IFACE.mountPoint,
      IFACE.process,
      IFACE.stats,
      IFACE.device,
      slot.mode === 'Proxy' ? IFACE.proxy : IFACE.legacy,
      ...(slot.mode === 'Legacy' ? [IFACE.sources] : []),
      'org.freedesktop.DBus.Properties',
      'org.freedesktop.DBus.Introspectable',
    ];
    for (const iface of expected) assert.ok(ifaces.includes(iface), `${objectPath} has ${iface}: ${ifaces.join(' ')}`);
    // a slot is one mode only: bmcweb tells Proxy from Legacy by the interface
    assert.ok(
      !ifaces.includes(slot.mode === 'Proxy' ? IFACE.legacy : IFACE.proxy),
      `${objectPath} is ${slot.mode} only`,
    );
  }
  // depth 1 below the root finds no slot (they sit under Proxy/ and Legacy/), depth 2 all of them
  assert.deepEqual(Object.keys(getSubTree(ROOT_PATH, 1, [IFACE.mountPoint])), []);
  assert.equal(Object.keys(getSubTree(ROOT_PATH, 2, [IFACE.mountPoint])).length, SLOTS.length);
  // by interface, as bmcweb picks the slots it may insert into
  assert.deepEqual(
    Object.keys(getSubTree('/xyz/openbmc_project', 0, [IFACE.legacy])).sort(),
    ['Slot_2', 'Slot_3'].map((n) => slotPath('Legacy', n)),
  );
});

test('the walk agrees with GetManagedObjects: the same slot paths and interfaces', async () => {
  const [objects] = await client.call(ROOT_PATH, IFACE.objectManager, 'GetManagedObjects');
  const managed = objects as Record<string, Record<string, unknown>>;
  for (const [objectPath, ifaces] of Object.entries(managed)) {
    const walked = map.get(objectPath);
    assert.ok(walked, `${objectPath} from GetManagedObjects was found by the walk`);
    for (const iface of Object.keys(ifaces)) assert.ok(walked.has(iface), `${objectPath}: ${iface} introspects`);
  }
  assert.equal(Object.keys(managed).length, SLOTS.length);
});
