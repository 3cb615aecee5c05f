// Attachment windows against a real vmedia BMC: bad windows are 400s, an overlapping one 409; a
// window is `scheduled` (API and /metrics) until its start, attached at the start and detached at
// the end; a scheduled one can be cancelled; the schedule lives in the database, so a gateway
// that was down when a window ended detaches it at its start, and one whose whole window passed
// while it was down fails with the reason.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { waitFor } from '../helpers/wait.js';
import { startGatewayWithBmc, BMC, type AttachmentView, type GatewayWithBmc } from './one-bmc.js';

const iso = (ms: number) => new Date(ms).toISOString();
const sleepUntil = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms - Date.now())));

describe('gateway: attachment windows', { timeout: 240_000 }, () => {
  let t: GatewayWithBmc;
  let imageId = '';

  const attach = (body: Record<string, unknown>) =>
    t.gw.api('/api/attachments', { method: 'POST', as: 'operator', body: { bmc: BMC, image: imageId, ...body } });
  const scheduled = async (body: Record<string, unknown>): Promise<AttachmentView> => {
    const res = await attach(body);
    assert.equal(res.status, 202, res.text);
    return res.json as AttachmentView;
  };

  before(async () => {
    t = await startGatewayWithBmc();
    const up = await t.gw.raw('/api/images?name=window.iso', {
      method: 'POST',
      as: 'operator',
      body: randomBytes(1024 * 1024),
    });
    assert.equal(up.status, 201, up.body.toString());
    imageId = (JSON.parse(up.body.toString()) as { id: string }).id;
  });
  after(() => t?.stop());

  it('refuses bad windows with a 400 JSON error', async () => {
    const now = Date.now();
    const bad: [unknown, RegExp][] = [
      ['tomorrow', /window: an object/],
      [{ start: iso(now), end: iso(now + 60_000), every: 'day' }, /unknown every/],
      [{ start: '2026-01-01 10:00', end: iso(now + 60_000) }, /window\.start: an RFC 3339/],
      [{ start: iso(now), end: iso(now + 60_000).replace('Z', '') }, /window\.end: an RFC 3339/],
      [{ start: iso(now), end: '2026-02-30T10:00:00Z' }, /window\.end: an RFC 3339/],
      [{ start: iso(now + 60_000), end: iso(now + 30_000) }, /the end must be after the start/],
      [{ start: iso(now - 60_000), end: iso(now - 30_000) }, /the end has passed/],
      [{ end: iso(now + 60_000) }, /window\.start/],
    ];
    for (const [window, message] of bad) {
      const res = await attach({ device: 'cd', window });
      assert.equal(res.status, 400, `${JSON.stringify(window)}: ${res.text}`);
      assert.equal(res.json.error.code, 'BadRequest');
      assert.match(res.json.error.message, message);
    }
    const boot = await attach({ device: 'cd', boot: 'yes' });
    assert.equal(boot.status, 400, boot.text);
  });

  it('is scheduled until its start, attached at the start and detached at the end', async () => {
    const start = Date.now() + 4000;
    const end = start + 6000;
    const row = await scheduled({ device: 'cd', window: { start: iso(start), end: iso(end) } });
    assert.equal(row.state, 'scheduled');
    assert.deepEqual(row.window, { start: iso(start), end: iso(end) });
    const metrics = (await t.gw.api('/metrics', { as: 'reader' })).text;
    assert.match(metrics, /^vmedia_gateway_attachments\{state="scheduled"\} 1$/m);
    assert.equal((await t.slot('cd')).Inserted, false, 'nothing inserted before the start');

    const overlap = await attach({ device: 'cd', window: { start: iso(end - 1000), end: iso(end + 60_000) } });
    assert.equal(overlap.status, 409, overlap.text);
    assert.match(overlap.json.error.message, /overlaps/);
    const cancel = await scheduled({ device: 'usb', window: { start: iso(end + 60_000), end: iso(end + 120_000) } });
    const cancelled = await t.gw.api(`/api/attachments/${cancel.id}`, { method: 'DELETE', as: 'operator' });
    assert.equal(cancelled.status, 202, cancelled.text);
    assert.equal(cancelled.json.state, 'detached', 'a scheduled attachment is cancelled at once');

    // a loaded machine may take longer than the window to attach: the audit (written once the BMC
    // shows the image) says what happened when, whatever the polls saw
    await t.waitState(row.id, 'detached', 90_000);
    assert.equal((await t.slot('cd')).Inserted, false);
    const audit = (await t.gw.api('/api/audit?limit=1000')).json.audit as {
      action: string;
      at: string;
      detail: string;
    }[];
    const trail = audit.filter((e) => e.detail.includes(row.id));
    assert.deepEqual(
      trail.map((e) => e.action),
      ['schedule', 'window opened', 'attached', 'window closed', 'detached'],
    );
    const at = (action: string) => Date.parse(trail.find((e) => e.action === action)!.at);
    assert.ok(at('window opened') >= start, 'not opened before the start');
    assert.ok(at('window closed') >= end, 'not closed before the end');
  });

  it('after a restart: a window that ended meanwhile is detached, one that passed whole has failed', async () => {
    const end = Date.now() + 20_000;
    const spanning = await scheduled({ device: 'cd', window: { start: iso(Date.now() + 1000), end: iso(end) } });
    await t.waitState(spanning.id, 'attached', 30_000);
    // the second window opens and closes while the gateway is down (it ticks once a second)
    const next = Date.now() + 2000;
    assert.ok(next + 1000 < end, 'attached well before the end (the machine is too slow otherwise)');
    const missed = await scheduled({ device: 'usb', window: { start: iso(next), end: iso(next + 1000) } });
    await t.gw.kill();
    await sleepUntil(end + 500);
    assert.equal((await t.slot('cd')).Inserted, true, 'the BMC still holds the image while the gateway is down');
    await t.gw.restart();
    await t.waitState(spanning.id, 'detached', 30_000);
    assert.equal((await t.slot('cd')).Inserted, false);
    const failed = await t.waitState(missed.id, 'failed', 10_000);
    assert.match(failed.error ?? '', /window had ended before the gateway could start attaching it/);
    assert.equal((await t.slot('usb')).Inserted, false, 'a missed window inserts nothing');
    await waitFor('no live attachment', async () => {
      const live = await t.gw.api('/api/attachments?state=scheduled,attaching,attached,detaching', { as: 'reader' });
      return (live.json.attachments as unknown[]).length === 0;
    });
  });
});
