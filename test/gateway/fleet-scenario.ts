// The gateway in front of a fleet: N BMCs, each a real vmedia (private bus, daemon with the export
// backend, web; fleet-bmcs.ts) whose Legacy CD slot reads the gateway's media server through nbdkit curl. One
// uploaded image is attached to all in parallel and read back from every BMC's export socket;
// detach converges; the gateway is SIGKILLed in the middle of attaching and of detaching, and
// after a restart the database is the truth and nothing is left half-done.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';
import {
  bmcName,
  CD_SLOT,
  cdExportSha256,
  cdSlot,
  registerFleet,
  spread,
  startFleet,
  treeCpuSeconds,
  uploadImage,
  waitAttachments,
  type AttachmentRow,
  type Fleet,
} from './fleet-bmcs.js';
import { startGatewayProcess, type GatewayProcess } from './helpers.js';

export interface FleetScenarioOptions {
  /** The longest wait for every attachment to reach a state. */
  timeoutMs: number;
  /** How many BMC stacks start at once. */
  parallelStarts: number;
  /** The whole scenario (stacks started to the last check) must take at most this long. */
  capMs: number;
}

export function fleetScenario(bmcCount: number, opts: FleetScenarioOptions): void {
  describe(`vmedia gateway driving ${bmcCount} BMCs`, () => {
    let began = 0;
    let cpuBefore = 0;
    let fleet: Fleet | undefined;
    let stacks: Stack[] = [];
    let gw: GatewayProcess;
    // small: CI reads it back from every BMC twice
    const image = randomBytes(4 * 1024 * 1024);
    const sha256 = createHash('sha256').update(image).digest('hex');
    let imageId = '';
    const timing: Record<string, number> = {};

    const rows = async (): Promise<AttachmentRow[]> =>
      (await gw.api('/api/attachments?state=attaching,attached,detaching')).json.attachments as AttachmentRow[];
    const attachAll = () =>
      Promise.all(
        stacks.map(async (_s, i) => {
          const res = await gw.api('/api/attachments', {
            method: 'POST',
            as: 'operator',
            body: { bmc: bmcName(i), device: 'cd', image: imageId },
          });
          assert.equal(res.status, 202, res.text);
          return res.json.id as string;
        }),
      );
    const detachAll = (ids: string[]) =>
      Promise.all(
        ids.map(async (id) => {
          const res = await gw.api(`/api/attachments/${id}`, { method: 'DELETE', as: 'operator' });
          assert.equal(res.status, 202, res.text);
        }),
      );
    const waitAll = (state: string, ids: string[]) => waitAttachments(gw, ids, state, opts.timeoutMs);
    /** Every BMC holds exactly our image in its CD slot (read back through its export) and nothing else. */
    const assertAllServeImage = async () => {
      for (const s of stacks) {
        const slot = await cdSlot(s);
        assert.equal(slot.Inserted, true, `${s.baseUrl} ${CD_SLOT} inserted`);
        assert.ok(String(slot.Image).startsWith(`${gw.mediaUrl}/media/`), String(slot.Image));
        // right after a gateway restart a BMC's source may still be in its retry back-off from
        // the outage: its reads resume, which is what is waited for (a read that never works fails)
        await waitFor(
          `${s.baseUrl}: the export reads back the image`,
          async () => (await cdExportSha256(s, image.length)) === sha256,
          {
            timeoutMs: 60_000,
            intervalMs: 1000,
          },
        );
        const others = await s.request('/redfish/v1/Managers/bmc/VirtualMedia/Slot_3', { auth: s.readOnly });
        assert.equal(others.json.Inserted, false, 'no other slot holds media');
      }
    };
    const assertAllEmpty = async () => {
      for (const s of stacks) assert.equal((await cdSlot(s)).Inserted, false, `${s.baseUrl} ${CD_SLOT} ejected`);
    };

    before(async () => {
      began = performance.now();
      cpuBefore = treeCpuSeconds();
      fleet = await startFleet(bmcCount, { parallel: opts.parallelStarts, startTimeoutMs: 120_000 });
      stacks = fleet.stacks;
      timing.stacksMs = fleet.figures.totalMs;
      timing.stacksCpuS = treeCpuSeconds() - cpuBefore;
      process.stdout.write(
        `# fleet of ${bmcCount}: stacks started in ${Math.round(timing.stacksMs / 1000)} s, ${Math.round(timing.stacksCpuS)} CPU-s\n`,
      );
      let t = performance.now();
      gw = await startGatewayProcess();
      timing.gatewayStartMs = performance.now() - t;
      await registerFleet(stacks, [gw]);
      t = performance.now();
      imageId = await uploadImage(gw, 'fleet.iso', image);
      timing.uploadMs = performance.now() - t;
    });

    after(async () => {
      const rss = fleet?.figures.rssKiB ?? [];
      process.stdout.write(
        `# fleet of ${bmcCount}: ${JSON.stringify(Object.fromEntries(Object.entries(timing).map(([k, v]) => [k, Math.round(v)])))}; ` +
          `one stack's start ${spread(fleet?.figures.perStackMs ?? [])}, RSS (bus + daemon + web) median ${Math.round((rss.sort((x, y) => x - y)[rss.length >> 1] ?? NaN) / 1024)} MiB\n`,
      );
      await gw?.stop();
      await fleet?.stop();
    });

    it('attaches one image to every BMC in parallel; each export reads back its sha256; the URL alone opens nothing', async () => {
      const t = performance.now();
      const ids = await attachAll();
      const attached = await waitAll('attached', ids);
      timing.attachAllMs = performance.now() - t;
      await assertAllServeImage();
      const metrics = (await gw.api('/metrics', { as: 'reader' })).text;
      assert.match(metrics, new RegExp(`^vmedia_gateway_attachments\\{state="attached"\\} ${bmcCount}$`, 'm'));
      assert.match(metrics, /^vmedia_gateway_served_bytes_total [1-9]\d*$/m);
      assert.match(
        metrics,
        new RegExp(`^vmedia_gateway_operation_seconds_count\\{operation="attach",outcome="ok"\\} ${bmcCount}$`, 'm'),
      );
      for (const r of attached)
        assert.ok(r.bytesServed > 0 || (await gw.api(`/api/attachments/${r.id}`)).json.bytesServed > 0);
      // a ReadOnly user of the BMC reads Image, but the URL needs the attachment's credentials
      const url = String((await cdSlot(stacks[0]!)).Image);
      const bare = await fetchStatus(url, gw.ca);
      assert.equal(bare, 401);
      const del = await gw.api(`/api/images/${imageId}`, { method: 'DELETE' });
      assert.equal(del.status, 409, 'an attached image is not deleted');

      const t2 = performance.now();
      await detachAll(ids);
      await waitAll('detached', ids);
      timing.detachAllMs = performance.now() - t2;
      await assertAllEmpty();
      assert.equal(await fetchStatus(url, gw.ca), 410, 'a detached URL is gone');
    });

    it('SIGKILLed while attaching and while detaching, restarted: the database is the truth, nothing half-done', async () => {
      const ids = await attachAll();
      await waitFor('some attachment attached', async () => (await rows()).some((r) => r.state === 'attached'), {
        timeoutMs: opts.timeoutMs,
        intervalMs: 50,
      });
      const before = await rows();
      await gw.kill();
      await gw.restart();
      timing.killedWhileAttaching = before.filter((r) => r.state === 'attaching').length;
      await waitAll('attached', ids);
      await assertAllServeImage();

      await detachAll(ids);
      await gw.kill();
      await gw.restart();
      await waitAll('detached', ids);
      assert.deepEqual(await rows(), [], 'no attachment is left live');
      await assertAllEmpty();
      const audit = (await gw.api('/api/audit?limit=10000')).json.audit as { action: string }[];
      assert.equal(audit.filter((e) => e.action === 'attached').length >= 2 * bmcCount, true);
    });

    it(`takes at most ${opts.capMs / 1000} s in all`, () => {
      timing.totalMs = performance.now() - began;
      // the figure that does not depend on what else the machine runs
      timing.totalCpuS = treeCpuSeconds() - cpuBefore;
      assert.ok(timing.totalMs <= opts.capMs, `${Math.round(timing.totalMs / 1000)} s`);
    });
  });
}

/** The status of a GET of `url` with no credentials. */
async function fetchStatus(url: string, ca: string): Promise<number> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    request(url, { ca }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on('error', reject)
      .end();
  });
}
