// Two `vmedia gateway` processes on one PostgreSQL (Debian's server, postgres-server.ts) in front
// of the same BMCs. Both are asked to attach and to detach on the same BMCs at the same moment;
// a recording Redfish proxy in front of each BMC (fleet-redfish-proxy.ts) shows, from the BMC's
// side, that no two InsertMedia/EjectMedia actions ever ran on one BMC at once, and that both
// gateways drove the BMCs. The database, the BMCs' slots and their exports agree at the end.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  bmcName,
  cdExportSha256,
  cdSlot,
  registerFleet,
  startFleet,
  uploadImage,
  waitAttachments,
  type AttachmentRow,
  type Fleet,
} from './fleet-bmcs.js';
import { startRecordingProxy, type RecordingProxy } from './fleet-redfish-proxy.js';
import { startGatewayProcess, type GatewayProcess } from './helpers.js';
import { startPostgres, type PostgresServer } from './postgres-server.js';

const BMCS = 3;
/** Rounds of attach-then-detach (the detach at once through both gateways, before the attach is done). */
const ROUNDS = 4;

describe('two gateways on one PostgreSQL', () => {
  let pg: PostgresServer | undefined;
  let fleet: Fleet | undefined;
  let proxies: RecordingProxy[] = [];
  const gws: GatewayProcess[] = [];
  const image = randomBytes(2 * 1024 * 1024);
  const sha256 = createHash('sha256').update(image).digest('hex');
  let imageId = '';

  before(async () => {
    pg = await startPostgres();
    fleet = await startFleet(BMCS, { parallel: BMCS, startTimeoutMs: 120_000 });
    proxies = await Promise.all(fleet.stacks.map(startRecordingProxy));
    for (let i = 0; i < 2; i++) gws.push(await startGatewayProcess({ extraArgs: ['--postgres', pg.connectionString] }));
    await registerFleet(
      fleet.stacks,
      gws,
      proxies.map((p) => p.url),
    );
    imageId = await uploadImage(gws[0]!, 'shared.iso', image);
    // the image store both gateways read (a shared directory or registry in production)
    const from = path.join(gws[0]!.stateDir, 'images');
    for (const f of readdirSync(from).filter((f) => f.startsWith(imageId)))
      copyFileSync(path.join(from, f), path.join(gws[1]!.stateDir, 'images', f));
    assert.equal((await gws[1]!.api(`/api/images/${imageId}`)).status, 200, 'the second gateway sees the image');
  });

  after(async () => {
    for (const gw of gws) await gw.stop();
    await Promise.all(proxies.map((p) => p.stop()));
    await fleet?.stop();
    await pg?.stop();
  });

  /**
   * Both gateways asked the same thing: at once, or `lead` first and the other as soon as it has
   * answered (at once, the one that handled the upload wins the race every time). The answers, in
   * gateway order.
   */
  const both = async (pathname: string, body?: object, lead?: number) => {
    const ask = (n: number) =>
      gws[n]!.api(pathname, { method: body ? 'POST' : 'DELETE', as: 'operator', ...(body ? { body } : {}) });
    if (lead === undefined) return Promise.all([ask(0), ask(1)]);
    const first = await ask(lead);
    const second = await ask(1 - lead);
    return lead === 0 ? [first, second] : [second, first];
  };
  const waitState = (ids: string[], state: string) => waitAttachments(gws[0]!, ids, state, 120_000);

  /** Attach on every BMC through both gateways: exactly one of each pair wins. */
  const attachAll = (lead?: number) =>
    Promise.all(
      fleet!.stacks.map(async (_s, i) => {
        const answers = await both('/api/attachments', { bmc: bmcName(i), device: 'cd', image: imageId }, lead);
        const statuses = answers.map((a) => a.status).sort();
        assert.deepEqual(statuses, [202, 409], answers.map((a) => a.text).join('\n'));
        return answers.find((a) => a.status === 202)!.json.id as string;
      }),
    );
  /** Detach each through both gateways at once: a detach of a live attachment is taken (202) even
   *  while it is detaching already; once it is detached, 409. */
  const detachAll = (ids: string[]) =>
    Promise.all(
      ids.map(async (id) => {
        const answers = await both(`/api/attachments/${id}`);
        const statuses = answers.map((a) => a.status);
        assert.ok(
          statuses.includes(202) && statuses.every((s) => s === 202 || s === 409),
          answers.map((a) => `${a.status} ${a.text}`).join('\n'),
        );
      }),
    );

  it('attach and detach asked of both at once, detach while still attaching: never two actions on one BMC, consistent at the end', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      // every other round the second gateway attaches
      const ids = await attachAll(round % 2 === 1 ? 1 : undefined);
      // at once: the detach reaches one gateway while the other may still be attaching
      await detachAll(ids);
      await waitState(ids, 'detached');
    }
    for (const s of fleet!.stacks) assert.equal((await cdSlot(s)).Inserted, false, `${s.baseUrl} holds no media`);

    // the second gateway attaches, the first (at once with it) detaches: both drove every BMC
    const ids = await attachAll(1);
    await waitState(ids, 'attached');
    for (const [i, s] of fleet!.stacks.entries()) {
      const slot = await cdSlot(s);
      const row = (await gws[1]!.api(`/api/attachments?bmc=${bmcName(i)}&state=attached`)).json
        .attachments as AttachmentRow[];
      assert.equal(row.length, 1, `one live attachment on ${bmcName(i)}`);
      assert.ok(
        gws.some((gw) => String(slot.Image).startsWith(`${gw.mediaUrl}/media/`)),
        String(slot.Image),
      );
      assert.equal(await cdExportSha256(s, image.length), sha256, `${bmcName(i)} reads back the image`);
    }
    await detachAll(ids);
    await waitState(ids, 'detached');
    for (const s of fleet!.stacks) assert.equal((await cdSlot(s)).Inserted, false, `${s.baseUrl} holds no media`);
    const live = (await gws[0]!.api('/api/attachments?state=attaching,attached,detaching')).json
      .attachments as AttachmentRow[];
    assert.deepEqual(live, [], 'nothing live in the database');

    const inserts = proxies.flatMap((p) => p.actions.filter((a) => a.action === 'InsertMedia'));
    for (const [n, gw] of gws.entries())
      assert.ok(
        inserts.some((a) => a.image?.startsWith(`${gw.mediaUrl}/media/`)),
        `gateway ${n} sent InsertMedia to some BMC`,
      );
    for (const [i, p] of proxies.entries()) {
      // a detach that takes the BMC's lock before the attach leaves nothing to drive: only the last
      // round's insert and eject are certain
      assert.ok(p.actions.length >= 2, `${bmcName(i)} saw ${p.actions.length} actions`);
      assert.equal(p.maxInFlight(), 1, `${bmcName(i)}: actions of two gateways overlapped`);
    }
    process.stdout.write(
      `# two gateways: ${inserts.length} InsertMedia, ${proxies.reduce((n, p) => n + p.actions.length, 0) - inserts.length} EjectMedia on ${BMCS} BMCs, ` +
        `by gateway ${gws.map((gw) => inserts.filter((a) => a.image?.startsWith(`${gw.mediaUrl}/`)).length).join(' / ')}\n`,
    );
  });
});
