// Where a secret (the image password, a presigned URL's token) shows up: the argv and environment
// of every process, the daemon's and the web's output (nbdkit's stderr goes to the daemon's log),
// every HTTP response a test received, and the daemon's D-Bus objects (GetManagedObjects).
import assert from 'node:assert/strict';
import { IFACE, slotPath } from '../../../src/dbus/names.js';
import type { HttpResponse } from '../../helpers/stack.js';
import { VIRTUAL_MEDIA, type Fixture } from './fixture.js';
import { allPids, commandName, procFilesContaining } from './proc.js';
import { managedObjects, type ManagedObjects } from './slot-state.js';

export interface SecretSightings {
  /** "/proc/PID/cmdline (name)" */
  argv: string[];
  environ: string[];
  /** The log lines (daemon, web) that contain it. */
  logs: string[];
  /** "STATUS METHOD-less summary" of each response whose headers or body contain it. */
  http: string[];
  /** "<object path> <interface>.<property>" of each D-Bus property that contains it. */
  dbus: string[];
}

/** `responses`: the HTTP responses to search (default: every one the fixture received). */
export async function sightings(
  fx: Fixture,
  secret: string,
  responses: readonly HttpResponse[] = fx.responses,
): Promise<SecretSightings> {
  const pids = allPids();
  const named = (file: string) => `${file} (${commandName(Number(file.split('/')[2]))})`;
  const logLines = (who: string, text: string) =>
    text
      .split('\n')
      .filter((l) => l.includes(secret))
      .map((l) => `${who}: ${l}`);
  return {
    argv: procFilesContaining(secret, 'cmdline', pids).map(named),
    environ: procFilesContaining(secret, 'environ', pids).map(named),
    logs: [...logLines('daemon', fx.stack.daemon.output()), ...logLines('web', fx.stack.webOutput())],
    http: responses
      .filter((r) => r.text.includes(secret) || JSON.stringify(r.headers).includes(secret))
      .map((r) => `${r.status} ${r.text.slice(0, 300)}`),
    dbus: propertiesContaining(await managedObjects(fx.stack.busAddress), secret),
  };
}

export const NOWHERE: SecretSightings = { argv: [], environ: [], logs: [], http: [], dbus: [] };

function propertiesContaining(objects: ManagedObjects, secret: string): string[] {
  return Object.entries(objects).flatMap(([path, ifaces]) =>
    Object.entries(ifaces).flatMap(([iface, props]) =>
      Object.entries(props)
        .filter(([, v]) => JSON.stringify(v.data).includes(secret))
        .map(([name]) => `${path} ${iface}.${name}`),
    ),
  );
}

/**
 * The image password and the presigned token, with a Legacy slot mounted (Redfish InsertMedia
 * with UserName/Password) and every VirtualMedia member read by a ReadOnly user, then ejected.
 * The password: nowhere, ever. The token, while mounted: only where the contract puts the whole
 * URL (the slot's ImageURL property, its Redfish Image) and nbdkit's argv (docs/architecture.md:
 * a presigned URL's query string is on nbdkit's command line); after the eject: nowhere.
 */
export async function assertSecretsKept(fx: Fixture, slot: string): Promise<void> {
  const { password, token } = fx.secrets;
  assert.deepEqual(await sightings(fx, password), NOWHERE, 'the password, after what the test did so far');
  assert.deepEqual(await sightings(fx, token), NOWHERE, 'the token, after what the test did so far');

  const insert = await fx.request(`${VIRTUAL_MEDIA}/${slot}/Actions/VirtualMedia.InsertMedia`, {
    method: 'POST',
    auth: fx.stack.operator,
    body: { Image: fx.imageUrl, UserName: fx.secrets.imageUser, Password: password },
  });
  assert.equal(insert.status, 204, insert.text);
  const reads = await readEveryMember(fx);
  assert.deepEqual(await sightings(fx, password), NOWHERE, 'the password, while mounted');
  const mounted = await sightings(fx, token);
  const nbdkitArgv = mounted.argv.filter((p) => p.endsWith('(nbdkit)'));
  assert.deepEqual(mounted.argv, nbdkitArgv, 'the token in the argv of a process other than nbdkit');
  assert.deepEqual(mounted.dbus, [`${slotPath('Legacy', slot)} ${IFACE.mountPoint}.ImageURL`]);
  const withToken = reads.filter((r) => r.text.includes(token));
  assert.deepEqual(
    withToken.map((r) => [r.json.Id, r.json.Image]),
    [[slot, fx.imageUrl]],
    "the token in a response other than the mounted member's Image",
  );
  assert.deepEqual({ ...mounted, argv: [], dbus: [], http: [] }, NOWHERE, 'the token in environ or logs');

  const eject = await fx.request(`${VIRTUAL_MEDIA}/${slot}/Actions/VirtualMedia.EjectMedia`, {
    method: 'POST',
    auth: fx.stack.operator,
    body: {},
  });
  assert.equal(eject.status, 204, eject.text);
  const afterwards = await readEveryMember(fx);
  assert.deepEqual(await sightings(fx, password), NOWHERE, 'the password, after the eject');
  assert.deepEqual(await sightings(fx, token, afterwards), NOWHERE, 'the token, after the eject');
}

/** GET of every VirtualMedia member by the ReadOnly user. */
async function readEveryMember(fx: Fixture): Promise<HttpResponse[]> {
  const reads: HttpResponse[] = [];
  for (const s of fx.stack.slots) {
    const r = await fx.request(`${VIRTUAL_MEDIA}/${s.name}`, { auth: fx.stack.readOnly });
    assert.equal(r.status, 200, r.text);
    reads.push(r);
  }
  return reads;
}
