// Boot override + reset through the gateway against a real vmedia BMC whose ComputerSystem rests
// on phosphor's power and boot objects (the fixture on its bus): an attach with `boot` sets a
// one-time override to the device (seen in the BMC's ComputerSystem) and resets the host (On when
// it is off, ForceRestart when it runs), through the native API and Ironic's; a BMC that refuses
// the override gives the attachment a clear error and leaves the media attached.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BootSource, HOST_PATH, HostState, HostTransition, IFACE } from '../../src/dbus/phosphor.js';
import { startPhosphorFixture, type PhosphorFixture } from '../helpers/phosphor-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { startGatewayWithBmc, BMC, type GatewayWithBmc } from './one-bmc.js';

const SYSTEM = '/redfish/v1/Systems/system';

describe('gateway: boot override and reset after the insert', { timeout: 180_000 }, () => {
  let t: GatewayWithBmc;
  let fixture: PhosphorFixture;
  let imageId = '';

  const system = async () => (await t.stack.request(SYSTEM, { auth: t.stack.readOnly })).json;
  /** Ironic's attach of the image with a boot. */
  const ironicBoot = (deviceType: string) =>
    t.gw.api(`/v1/nodes/${BMC}/vmedia`, {
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

  it('a BMC refusing the override: a clear error, the media stays attached', async () => {
    // without phosphor's services the BMC answers the PATCH with 503 ServiceUnavailable
    fixture.stop();
    const res = await ironicBoot('cdrom');
    assert.equal(res.status, 502, res.text);
    const fault = JSON.parse(res.json.error_message as string) as { faultstring: string };
    assert.match(
      fault.faultstring,
      /the media is attached but the boot failed: the boot override \(PATCH .*\): HTTP 503/,
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
