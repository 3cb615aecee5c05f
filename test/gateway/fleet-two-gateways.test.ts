// Two `vmedia gateway` processes on one PostgreSQL (Debian's server, postgres-server.ts) in front
// of the same BMCs, sharing their images through one registry (`--storage oci://`, Debian's
// docker-registry with token auth: registry-fixture.ts): the image uploaded through the first is
// pushed there, never copied to the second, and both serve it to the BMCs from the registry by
// Range. Both are asked to attach and to detach on the same BMCs at the same moment; a recording
// Redfish proxy in front of each BMC (fleet-redfish-proxy.ts) shows, from the BMC's side, that no
// two InsertMedia/EjectMedia actions ever ran on one BMC at once, and that both gateways drove the
// BMCs. The database, the BMCs' slots and their exports agree at the end; the image cannot be
// deleted through either while attached, and once detached a delete through the second removes it
// for both and its manifest from the registry. A resumable upload session is the registry's chunked
// upload, its record in the database: opened through one gateway, continued and finished through the other.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
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
import { startRegistry, writeSourcesFile, type Registry } from './registry-fixture.js';

const BMCS = 3;
/** Rounds of attach-then-detach (the detach at once through both gateways, before the attach is done). */
const ROUNDS = 4;
/** The registry repository the gateways share. */
const REPOSITORY = 'vmedia/shared';

describe('two gateways on one PostgreSQL', () => {
  let pg: PostgresServer | undefined;
  let dir = '';
  let registry: Registry | undefined;
  let manifestDigest = '';
  let fleet: Fleet | undefined;
  let proxies: RecordingProxy[] = [];
  const gws: GatewayProcess[] = [];
  const image = randomBytes(2 * 1024 * 1024);
  const sha256 = createHash('sha256').update(image).digest('hex');
  let imageId = '';

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vmedia-shared-'));
    pg = await startPostgres();
    registry = await startRegistry(path.join(dir, 'registry'));
    const sourcesFile = writeSourcesFile(registry, dir);
    fleet = await startFleet(BMCS, { parallel: BMCS, startTimeoutMs: 120_000 });
    proxies = await Promise.all(fleet.stacks.map((s) => startRecordingProxy(s)));
    const shared = ['--postgres', pg.connectionString, '--storage', `oci://${registry.host}/${REPOSITORY}`];
    for (let i = 0; i < 2; i++)
      gws.push(await startGatewayProcess({ extraArgs: [...shared, '--sources', sourcesFile] }));
    await registerFleet(
      fleet.stacks,
      gws,
      proxies.map((p) => p.url),
    );
    imageId = await uploadImage(gws[0]!, 'shared.iso', image);
  });

  after(async () => {
    for (const gw of gws) await gw.stop();
    await Promise.all(proxies.map((p) => p.stop()));
    await fleet?.stop();
    await pg?.stop();
    await registry?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('an upload through one gateway is pushed to the registry as an OCI artifact, never copied: the other serves it by Range', async () => {
    const meta = (await gws[1]!.api(`/api/images/${imageId}`, { as: 'operator' })).json as Record<string, unknown>;
    assert.equal(meta.sha256, sha256, 'the second gateway sees the image, from the database');
    const stored = String(meta.stored);
    assert.match(stored, new RegExp(`^oci://${registry!.host}/${REPOSITORY}@sha256:[0-9a-f]{64}$`));
    manifestDigest = stored.slice(stored.indexOf('@') + 1);
    for (const gw of gws)
      assert.ok(!existsSync(path.join(gw.stateDir, 'images', imageId)), 'no gateway keeps the bytes locally');
    // the artifact as the OCI distribution spec has it: tagged with the image's id, one layer
    assert.equal(await registry!.manifestStatus(REPOSITORY, imageId), 200, 'tagged with the image id');
    const before = registry!.storageRequests.length;
    const part = await gws[1]!.raw(`/api/images/${imageId}/content`, {
      as: 'operator',
      headers: { Range: 'bytes=1048576-1114111' },
    });
    assert.equal(part.status, 206);
    assert.deepEqual(part.body, image.subarray(1048576, 1114112), 'the range, read from the registry');
    const reads = registry!.storageRequests.slice(before);
    assert.ok(
      reads.some((r) => r.path.includes(sha256) && r.range === 'bytes=1048576-1114111'),
      JSON.stringify(reads),
    );
    assert.ok(
      reads.every((r) => r.authorization === undefined),
      'no Authorization reaches the storage',
    );
  });

  /** A piece of a resumable session through `gw`, at `Upload-Offset` or (`range`) Content-Range. */
  const piece = (gw: GatewayProcess, session: string, body: Buffer, start: number, range = false) =>
    gw.raw(session, {
      method: 'PATCH',
      as: 'operator',
      body,
      headers: range
        ? { 'Content-Range': `bytes ${start}-${start + body.length - 1}` }
        : { 'Upload-Offset': String(start) },
    });
  const openSession = async (gw: GatewayProcess, name: string) => {
    const opened = await gw.api(`/api/uploads?name=${name}`, { method: 'POST', as: 'operator' });
    assert.equal(opened.status, 201, opened.text);
    return `/api/uploads/${String(opened.json.id)}`;
  };

  it('a resumable session is the registry upload: any gateway continues it, the registry checks the digest', async () => {
    const bytes = randomBytes(300_000);
    const digest = createHash('sha256').update(bytes).digest('hex');
    const images = async () =>
      ((await gws[0]!.api('/api/images', { as: 'admin' })).json.images as { name: string }[]).map((i) => i.name);

    const session = await openSession(gws[0]!, 'resumed.img');
    assert.equal((await piece(gws[0]!, session, bytes.subarray(0, 100_000), 0)).status, 204, 'a piece through 1');
    const wrong = await piece(gws[1]!, session, bytes.subarray(0, 100), 0);
    assert.equal(wrong.status, 409, wrong.body.toString());
    assert.equal(wrong.headers['upload-offset'], '100000', 'the 409 tells the real offset');
    const next = await piece(gws[1]!, session, bytes.subarray(100_000), 100_000, true);
    assert.equal(next.status, 204, next.body.toString());
    assert.equal(next.headers['upload-offset'], '300000');
    for (const gw of gws) {
      const head = await gw.raw(session, { method: 'HEAD', as: 'operator' });
      assert.equal(head.status, 200);
      assert.equal(head.headers['upload-offset'], '300000', 'either gateway tells the offset');
      assert.equal(head.headers.range, '0-299999');
    }
    assert.equal((await gws[1]!.raw(session, { method: 'HEAD', as: 'admin' })).status, 200, 'an admin sees it');
    const refused = await gws[1]!.api(`${session}?digest=sha256:${'0'.repeat(64)}`, { method: 'PUT', as: 'operator' });
    assert.equal(refused.status, 422, refused.text);
    assert.equal((await gws[0]!.raw(session, { method: 'HEAD', as: 'operator' })).status, 404, 'cancelled');
    assert.ok(!(await images()).includes('resumed.img'), 'nothing created');

    const again = await openSession(gws[1]!, 'resumed.img');
    assert.equal((await piece(gws[1]!, again, bytes.subarray(0, 150_000), 0)).status, 204);
    assert.equal((await piece(gws[0]!, again, bytes.subarray(150_000), 150_000)).status, 204);
    const done = await gws[1]!.api(`${again}?digest=sha256:${digest}`, { method: 'PUT', as: 'operator' });
    assert.equal(done.status, 201, done.text);
    const id = String(done.json.id);
    assert.equal((await gws[0]!.raw(again, { method: 'HEAD', as: 'operator' })).status, 404, 'the session is done');
    const whole = await gws[0]!.raw(`/api/images/${id}/content`, { as: 'operator' });
    assert.equal(createHash('sha256').update(whole.body).digest('hex'), digest, 'the first gateway reads it whole');
    assert.equal(await registry!.manifestStatus(REPOSITORY, id), 200, 'tagged with the image id');
    assert.equal((await gws[0]!.api(`/api/images/${id}`, { method: 'DELETE', as: 'admin' })).status, 204);
    assert.equal((await gws[1]!.api(`/api/images/${id}`)).status, 404, 'deleted for both');
    assert.equal(await registry!.manifestStatus(REPOSITORY, id), 404, 'its tag is gone from the registry');
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
    for (const gw of gws) {
      const refused = await gw.api(`/api/images/${imageId}`, { method: 'DELETE', as: 'admin' });
      assert.equal(refused.status, 409, `a delete while attached is refused: ${refused.text}`);
    }
    await detachAll(ids);
    await waitState(ids, 'detached');
    for (const s of fleet!.stacks) assert.equal((await cdSlot(s)).Inserted, false, `${s.baseUrl} holds no media`);
    const live = (await gws[0]!.api('/api/attachments?state=attaching,attached,detaching')).json
      .attachments as AttachmentRow[];
    assert.deepEqual(live, [], 'nothing live in the database');

    const deleted = await gws[1]!.api(`/api/images/${imageId}`, { method: 'DELETE', as: 'admin' });
    assert.equal(deleted.status, 204, deleted.text);
    for (const gw of gws) assert.equal((await gw.api(`/api/images/${imageId}`)).status, 404, 'gone for both');
    assert.equal(await registry!.manifestStatus(REPOSITORY, manifestDigest), 404, 'the manifest is deleted');
    assert.equal(await registry!.manifestStatus(REPOSITORY, imageId), 404, 'and its tag');

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
