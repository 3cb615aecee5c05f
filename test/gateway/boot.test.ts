// Boot override + reset through the gateway against a real vmedia BMC whose ComputerSystem rests
// on phosphor's power and boot objects (the fixture on its bus): an attach with `boot` sets a
// one-time override to the device (seen in the BMC's ComputerSystem) and resets the host (On when
// it is off, ForceRestart when it runs), through the native API and Ironic's; a BMC that refuses
// the override gives the attachment a clear error and leaves the media attached. Behind a proxy
// that refuses a PATCH without If-Match (as many vendors' BMCs), the override carries the ETag
// read, and when the system changes between the read and the PATCH (the BMC's own 412) it is read
// again and sent once more.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BootSource, HOST_PATH, HostState, HostTransition, IFACE } from '../../src/dbus/phosphor.js';
import { startPhosphorFixture, type PhosphorFixture } from '../helpers/phosphor-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { startRecordingProxy } from './fleet-redfish-proxy.js';
import { startGatewayWithBmc, BMC, type GatewayWithBmc } from './one-bmc.js';

const SYSTEM = '/redfish/v1/Systems/system';
/** A request on the system as the proxy passed it on, and the BMC's answer. */
type Seen = { method: string; ifMatch: string | undefined; status: number; etag: string | undefined };

describe('gateway: boot override and reset after the insert', { timeout: 180_000 }, () => {
  let t: GatewayWithBmc;
  let fixture: PhosphorFixture;
  let imageId = '';

  const system = async () => (await t.stack.request(SYSTEM, { auth: t.stack.readOnly })).json;
  /** Ironic's attach of the image with a boot. */
  const ironicBoot = (deviceType: string, node = BMC) =>
    t.gw.api(`/v1/nodes/${node}/vmedia`, {
      method: 'POST',
      as: 'operator',
      body: { device_type: deviceType, image_url: imageId, image_download_source: 'local', boot: true },
    });
  const written = (property: string) => fixture.writes.filter((w) => w.property === property).map((w) => w.value);

  before(async () => {
    t = await startGatewayWithBmc();
    fixture = await startPhosphorFixture(t.stack.busAddress);
    const up = await t.gw.raw('/api/images?name=boot.iso', {
      method: 'POST',
      as: 'operator',
      body: randomBytes(65536),
    });
    assert.equal(up.status, 201, up.body.toString());
    imageId = (JSON.parse(up.body.toString()) as { id: string }).id;
  });
  after(async () => {
    fixture?.stop();
    await t?.stop();
  });

  it('native API: a host that is off gets the one-time override to the CD and On', async () => {
    fixture.set(HOST_PATH, IFACE.host, 'CurrentHostState', HostState.Off);
    fixture.clearWrites();
    const res = await t.gw.api('/api/attachments', {
      method: 'POST',
      as: 'operator',
      body: { bmc: BMC, device: 'cd', image: imageId, boot: true },
    });
    assert.equal(res.status, 202, res.text);
    assert.equal(res.json.boot, 'requested');
    await t.waitState(res.json.id as string, 'attached');
    // the boot follows the insert
    const row = await waitFor('the boot', async () => {
      const now = await t.attachment(res.json.id as string);
      return now.boot !== 'requested' && now;
    });
    assert.equal(row.boot, 'done', row.error ?? '');
    assert.equal(row.error, null);
    assert.equal((await t.slot('cd')).Inserted, true);
    const boot = (await system()).Boot;
    assert.equal(boot.BootSourceOverrideTarget, 'Cd');
    assert.equal(boot.BootSourceOverrideEnabled, 'Once');
    assert.deepEqual(written('BootSource'), [BootSource.ExternalMedia]);
    assert.deepEqual(written('RequestedHostTransition'), [HostTransition.On]);
    const audit = (await t.gw.api('/api/audit?limit=100')).json.audit as { action: string; detail: string }[];
    assert.match(audit.find((e) => e.action === 'boot')?.detail ?? '', /On of \/redfish\/v1\/Systems\/system/);
  });

  it("Ironic's route: a running host gets the override to the USB stick and ForceRestart", async () => {
    fixture.set(HOST_PATH, IFACE.host, 'CurrentHostState', HostState.Running);
    fixture.clearWrites();
    const res = await ironicBoot('disk');
    assert.equal(res.status, 204, res.text);
    assert.equal((await system()).Boot.BootSourceOverrideTarget, 'Usb');
    assert.deepEqual(written('BootSource'), [BootSource.RemovableMedia]);
    assert.deepEqual(written('RequestedHostTransition'), [HostTransition.ForceWarmReboot]);
    const detached = await t.gw.api(`/v1/nodes/${BMC}/vmedia`, { method: 'DELETE', as: 'operator' });
    assert.equal(detached.status, 204, detached.text);
  });

  it('a BMC that checks ETags: If-Match with the ETag read; after its 412, read again and sent once more', async () => {
    fixture.set(HOST_PATH, IFACE.host, 'CurrentHostState', HostState.Off);
    fixture.clearWrites();
    let patches = 0;
    const proxy = await startRecordingProxy(t.stack, (req) => {
      if (req.method !== 'PATCH' || req.url !== SYSTEM) return undefined;
      if (req.headers['if-match'] === undefined)
        return { status: 412, body: { error: { code: 'Base.1.8.PreconditionFailed', message: 'If-Match required' } } };
      // the host starts between the gateway's read and its first PATCH: the ETag it sends is stale
      if (++patches === 1) fixture.set(HOST_PATH, IFACE.host, 'CurrentHostState', HostState.Running);
      return undefined;
    });
    try {
      const node = 'bmc-etag';
      const bmc = {
        name: node,
        redfishUrl: proxy.url,
        username: t.stack.operator.user,
        password: t.stack.operator.password,
        caPem: t.stack.ca,
      };
      assert.equal((await t.gw.api('/api/bmcs', { method: 'POST', body: bmc })).status, 201);
      const res = await ironicBoot('cdrom', node);
      assert.equal(res.status, 204, res.text);
      const onSystem = proxy.exchanges
        .filter((e) => e.url === SYSTEM)
        .map((e) => ({ method: e.method, ifMatch: e.ifMatch, status: e.status, etag: e.etag }));
      // (the attach read the system before, for its VirtualMedia)
      assert.equal(onSystem.filter((e) => e.method === 'PATCH').length, 2, JSON.stringify(onSystem));
      const [read, stale, reread, patched] = onSystem.slice(-4) as [Seen, Seen, Seen, Seen];
      assert.deepEqual([read.method, read.status], ['GET', 200]);
      assert.ok(read.etag, 'the BMC sends an ETag');
      assert.deepEqual([stale.method, stale.ifMatch, stale.status], ['PATCH', read.etag, 412], 'the BMC’s own 412');
      assert.deepEqual([reread.method, reread.status], ['GET', 200]);
      assert.notEqual(reread.etag, read.etag, 'the system changed');
      assert.deepEqual([patched.method, patched.ifMatch, patched.status], ['PATCH', reread.etag, 204]);
      assert.equal((await system()).Boot.BootSourceOverrideTarget, 'Cd');
      // the power state as read again: running, so a restart
      assert.deepEqual(written('RequestedHostTransition'), [HostTransition.ForceWarmReboot]);
      const detached = await t.gw.api(`/v1/nodes/${node}/vmedia`, { method: 'DELETE', as: 'operator' });
      assert.equal(detached.status, 204, detached.text);
      assert.equal((await t.gw.api(`/api/bmcs/${node}`, { method: 'DELETE' })).status, 204);
    } finally {
      await proxy.stop();
    }
  });

  it('a BMC refusing the override: a clear error, the media stays attached', async () => {
    // without phosphor's services the BMC answers the PATCH with 503 ServiceUnavailable
    fixture.stop();
    const res = await ironicBoot('cdrom');
    assert.equal(res.status, 502, res.text);
    const fault = JSON.parse(res.json.error_message as string) as { faultstring: string };
    assert.match(
      fault.faultstring,
      /the media is attached but the boot failed: (reading|the boot override \(PATCH) .*: HTTP 503/,
    );
    const live = (await t.gw.api(`/api/attachments?bmc=${BMC}&state=attached`, { as: 'reader' })).json.attachments as {
      boot: string;
      error: string;
    }[];
    assert.equal(live.length, 1);
    assert.equal(live[0]!.boot, 'failed');
    assert.match(live[0]!.error, /HTTP 503/);
    assert.equal((await t.slot('cd')).Inserted, true, 'the media is still in');
  });
});
