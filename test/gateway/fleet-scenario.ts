// The gateway in front of a fleet: N BMCs, each a real vmedia (private bus, daemon with the export
// backend, web) whose Legacy CD slot reads the gateway's media server through nbdkit curl. One
// uploaded image is attached to all in parallel and read back from every BMC's export socket;
// detach converges; the gateway is SIGKILLed in the middle of attaching and of detaching, and
// after a restart the database is the truth and nothing is left half-done.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { exec } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startStack, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';
import { startGatewayProcess, type GatewayProcess } from './helpers.js';

const run = promisify(exec);
const CD_SLOT = 'Slot_2';

interface Row {
  id: string;
  bmc: string;
  state: string;
  error: string | null;
  bytesServed: number;
}

/** Starts `count` stacks, at most `parallel` at a time (each is three processes). */
async function startStacks(count: number, parallel: number): Promise<Stack[]> {
  const stacks: Stack[] = [];
  for (let i = 0; i < count; i += parallel) {
    const batch = Array.from({ length: Math.min(parallel, count - i) }, () =>
      startStack({ mediaTypes: { [CD_SLOT]: 'CD' }, slotTimeout: 30, startTimeoutMs: 90_000 }),
    );
    const settled = await Promise.allSettled(batch);
    for (const s of settled) if (s.status === 'fulfilled') stacks.push(s.value);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(stacks.map((s) => s.stop()));
      throw failed.reason;
    }
  }
  return stacks;
}

export function fleetScenario(bmcCount: number, opts: { timeoutMs: number }): void {
  describe(`vmedia gateway driving ${bmcCount} BMCs`, () => {
    let stacks: Stack[] = [];
    let gw: GatewayProcess;
    const image = randomBytes(8 * 1024 * 1024);
    const sha256 = createHash('sha256').update(image).digest('hex');
    let imageId = '';
    const bmcName = (i: number) => `bmc-${i}`;
    const timing: Record<string, number> = {};

    const rows = async (): Promise<Row[]> =>
      (await gw.api('/api/attachments?state=attaching,attached,detaching')).json.attachments as Row[];
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
    const waitAll = (state: string, ids: string[]) =>
      waitFor(
        () => `every attachment ${state}`,
        async () => {
          const all = await Promise.all(ids.map(async (id) => (await gw.api(`/api/attachments/${id}`)).json as Row));
          const bad = all.find((r) => r.state === 'failed');
          if (bad) throw new Error(`attachment on ${bad.bmc} failed: ${bad.error}`);
          return all.every((r) => r.state === state) && all;
        },
        { timeoutMs: opts.timeoutMs, intervalMs: 250 },
      );
    const cdSlot = async (s: Stack) =>
      (await s.request(`/redfish/v1/Managers/bmc/VirtualMedia/${CD_SLOT}`, { auth: s.readOnly })).json;
    const exportSha = async (s: Stack) => {
      const socket = s.slots.find((slot) => slot.name === CD_SLOT)!.exportSocket;
      const { stdout } = await run(`nbdcopy 'nbd+unix:///?socket=${socket}' -`, {
        encoding: 'buffer',
        maxBuffer: 2 * image.length,
      });
      return createHash('sha256').update(stdout).digest('hex');
    };
    /** Every BMC holds exactly our image in its CD slot (read back through its export) and nothing else. */
    const assertAllServeImage = async () => {
      for (const s of stacks) {
        const slot = await cdSlot(s);
        assert.equal(slot.Inserted, true, `${s.baseUrl} ${CD_SLOT} inserted`);
        assert.ok(String(slot.Image).startsWith(`${gw.mediaUrl}/media/`), String(slot.Image));
        // right after a gateway restart a BMC's source may still be in its retry back-off from
        // the outage: its reads resume, which is what is waited for (a read that never works fails)
        await waitFor(`${s.baseUrl}: the export reads back the image`, async () => (await exportSha(s)) === sha256, {
          timeoutMs: 60_000,
          intervalMs: 1000,
        });
        const others = await s.request('/redfish/v1/Managers/bmc/VirtualMedia/Slot_3', { auth: s.readOnly });
        assert.equal(others.json.Inserted, false, 'no other slot holds media');
      }
    };
    const assertAllEmpty = async () => {
      for (const s of stacks) assert.equal((await cdSlot(s)).Inserted, false, `${s.baseUrl} ${CD_SLOT} ejected`);
    };

    before(async () => {
      let t = performance.now();
      stacks = await startStacks(bmcCount, 2);
      timing.stacksMs = performance.now() - t;
      gw = await startGatewayProcess();
      for (const [i, s] of stacks.entries()) {
        // the BMC's image sources trust the gateway's media server certificate
        writeFileSync(path.join(s.trustStore, 'gateway.pem'), gw.ca);
        const res = await gw.api('/api/bmcs', {
          method: 'POST',
          body: {
            name: bmcName(i),
            redfishUrl: s.baseUrl,
            username: s.operator.user,
            password: s.operator.password,
            caPem: s.ca,
          },
        });
        assert.equal(res.status, 201, res.text);
      }
      t = performance.now();
      const up = await gw.raw('/api/images?name=fleet.iso', {
        method: 'POST',
        as: 'operator',
        body: image,
        headers: { 'X-Image-Sha256': sha256 },
      });
      assert.equal(up.status, 201, up.body.toString());
      imageId = (JSON.parse(up.body.toString()) as { id: string }).id;
      timing.uploadMs = performance.now() - t;
    });

    after(async () => {
      process.stdout.write(
        `# fleet of ${bmcCount}: ${JSON.stringify(Object.fromEntries(Object.entries(timing).map(([k, v]) => [k, Math.round(v)])))}\n`,
      );
      await gw?.stop();
      await Promise.all(stacks.map((s) => s.stop()));
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
