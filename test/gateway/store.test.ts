// The two databases pass one suite: SQLite (embedded) and PostgreSQL (a real server started here as
// the postgres user). PostgreSQL also keeps two gateways apart: one live attachment per BMC and
// device under concurrent inserts, the per-BMC advisory lock never held by two at once, and a
// window's claim (changeState) won by one. A database of the first release upgrades on both.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openPostgresStore } from '../../src/gateway/db/postgres.js';
import { openSqliteStore } from '../../src/gateway/db/sqlite.js';
import type { GatewayStore } from '../../src/gateway/db/store.js';
import { waitFor } from '../helpers/wait.js';
import { startPostgres, type PostgresServer } from './postgres-server.js';

const bmc = (name: string) => ({
  name,
  redfishUrl: 'https://10.0.0.1',
  username: 'u',
  password: 'p',
  caPem: 'pem',
  createdAt: '2026-01-01T00:00:00.000Z',
  createdBy: 't',
});
const uuid = (n: number) => `${String(n).padStart(8, '0')}-0000-4000-8000-000000000000`;

function storeSuite(name: string, open: () => Promise<GatewayStore>): void {
  describe(`gateway store: ${name}`, () => {
    let store: GatewayStore;
    before(async () => {
      store = await open();
    });
    after(() => store?.close());

    it('keeps BMCs', async () => {
      await store.addBmc(bmc('b1'));
      await store.addBmc(bmc('b2'));
      assert.deepEqual(await store.getBmc('b1'), bmc('b1'));
      assert.deepEqual(
        (await store.listBmcs()).map((b) => b.name),
        ['b1', 'b2'],
      );
      await assert.rejects(store.addBmc(bmc('b1')), 'a name is unique');
      await store.deleteBmc('b2');
      assert.equal(await store.getBmc('b2'), undefined);
    });

    it('holds one live attachment per BMC and device, and tracks its state, access and bytes', async () => {
      const a = await store.createAttachment({ id: uuid(1), bmc: 'b1', device: 'cd', imageId: 'i', createdBy: 't' });
      assert.equal(a?.state, 'attaching');
      assert.equal(
        await store.createAttachment({ id: uuid(2), bmc: 'b1', device: 'cd', imageId: 'i', createdBy: 't' }),
        undefined,
      );
      assert.equal(
        (await store.createAttachment({ id: uuid(3), bmc: 'b1', device: 'usb', imageId: 'j', createdBy: 't' }))?.device,
        'usb',
      );

      await store.updateAttachment(uuid(1), {
        state: 'attached',
        tokenHash: 'h1',
        passwordHash: 'p1',
        expiresAt: 1_900_000_000_000,
        slotUri: '/s',
      });
      const found = await store.findAttachmentByToken('h1');
      assert.equal(found?.id, uuid(1));
      assert.equal(found?.expiresAt, 1_900_000_000_000);
      assert.equal(found?.slotUri, '/s');
      await store.addBytesServed(uuid(1), 5_000_000_000);
      await store.addBytesServed(uuid(1), 1);
      assert.equal((await store.getAttachment(uuid(1)))?.bytesServed, 5_000_000_001);
      await store.updateAttachment(uuid(3), { error: 'boom', failed: true });
      await store.updateAttachment(uuid(3), { state: 'failed', error: 'boom again', failed: true });
      const failed = await store.getAttachment(uuid(3));
      assert.deepEqual([failed?.state, failed?.error, failed?.errorCount], ['failed', 'boom again', 2]);

      assert.deepEqual(
        (await store.listAttachments({ states: ['attached'] })).map((r) => r.id),
        [uuid(1)],
      );
      assert.deepEqual(
        (await store.listAttachments({ imageId: 'j' })).map((r) => r.id),
        [uuid(3)],
      );
      assert.equal((await store.listAttachments({ bmc: 'b1' })).length, 2);

      assert.equal(await store.beginDetach(uuid(1)), true);
      assert.equal(await store.beginDetach(uuid(3)), false, 'a failed attachment is not live');
      await store.updateAttachment(uuid(1), { state: 'detached', expiresAt: null });
      assert.equal((await store.getAttachment(uuid(1)))?.expiresAt, null);
      assert.ok(
        await store.createAttachment({ id: uuid(4), bmc: 'b1', device: 'cd', imageId: 'i', createdBy: 't' }),
        'the device is free again',
      );
    });

    it('keeps windows, boot and nonce; a scheduled attachment holds no device until changeState claims it', async () => {
      const live = await store.createAttachment({ id: uuid(40), bmc: 'w', device: 'cd', imageId: 'i', createdBy: 't' });
      assert.equal(live?.state, 'attaching');
      const windowStart = 2 ** 41; // ms past 2^32: BIGINT on PostgreSQL
      const s = await store.createAttachment({
        id: uuid(41),
        bmc: 'w',
        device: 'cd',
        imageId: 'j',
        createdBy: 't',
        windowStart,
        windowEnd: windowStart + 5000,
        scheduled: true,
        boot: true,
        generatedNonce: 'ab'.repeat(16),
      });
      assert.deepEqual(
        [s?.state, s?.windowStart, s?.windowEnd, s?.boot, s?.generatedNonce],
        ['scheduled', windowStart, windowStart + 5000, 'requested', 'ab'.repeat(16)],
        'created beside a live attachment of the same device',
      );
      assert.deepEqual(
        [live?.windowStart, live?.windowEnd, live?.boot, live?.generatedNonce],
        [null, null, null, null],
      );

      assert.equal(await store.changeState(uuid(41), ['scheduled'], 'attaching'), 'device-busy');
      assert.equal((await store.getAttachment(uuid(41)))?.state, 'scheduled', 'a refused change changes nothing');
      assert.equal(await store.changeState(uuid(40), ['attaching', 'attached'], 'detached'), 'changed');
      assert.equal(await store.changeState(uuid(41), ['scheduled'], 'attaching'), 'changed');
      assert.equal(await store.changeState(uuid(41), ['scheduled'], 'attaching'), 'unchanged', 'claimed once');
      await store.updateAttachment(uuid(41), { boot: 'done' });
      assert.equal((await store.getAttachment(uuid(41)))?.boot, 'done');
    });

    it("keeps images' metadata (shared storage): insert, replace by id, list oldest first, delete", async () => {
      const image = (n: number, created: string) => ({
        id: uuid(100 + n),
        name: `i${n}.iso`,
        size: 5_000_000_000 + n,
        sha256: String(n).repeat(64),
        mediaType: 'application/x-iso9660-image',
        created,
        createdBy: 'op',
        grants: [] as string[],
      });
      const later = { ...image(1, '2026-01-02T00:00:00.000Z'), stored: `oci://reg:5000/vm@sha256:${'a'.repeat(64)}` };
      const source = { url: 'oci://reg:5000/vm:v1', cached: false, blobDigest: `sha256:${'b'.repeat(64)}` };
      const failed = { ...image(2, '2026-01-01T00:00:00.000Z'), source, state: 'failed' as const, error: 'bad' };
      await store.putImage(later);
      await store.putImage(failed);
      assert.deepEqual(await store.getImage(later.id), later, 'a size past 2^32 and the artifact kept');
      assert.deepEqual(await store.listImages(), [failed, later]);
      const granted = { ...later, grants: ['bob', 'group:ops', '*'] };
      await store.putImage(granted);
      assert.deepEqual(await store.getImage(later.id), granted, 'replaced by id');
      await store.deleteImage(failed.id);
      assert.deepEqual(await store.listImages(), [granted]);
      assert.equal(await store.getImage(failed.id), undefined);
    });

    it('keeps resumable upload sessions (shared storage): an append moves the offset once, expired ones are listed', async () => {
      const session = {
        id: uuid(200),
        name: 'r.iso',
        size: 5_000_000_000,
        createdBy: 'op',
        location: 'https://reg:5000/v2/vm/blobs/uploads/u1?_state=a',
        offset: 0,
        created: '2026-01-01T00:00:00.000Z',
        lastAppend: null,
        expiresAt: 2_000_000_000_000,
      };
      const expired = { ...session, id: uuid(201), size: null, expiresAt: 1_000 };
      await store.createUploadSession(session);
      await store.createUploadSession(expired);
      assert.deepEqual(await store.getUploadSession(session.id), session, 'a size past 2^32 kept');
      assert.equal(await store.countUploadSessions('op', 1_500_000_000_000), 1, 'the expired one not counted');
      const to = { offset: 4_294_967_296, location: `${session.location}b`, expiresAt: 2_000_000_000_001 };
      assert.equal(await store.advanceUploadSession(session.id, 0, to), true);
      assert.equal(await store.advanceUploadSession(session.id, 0, to), false, 'from a stale offset: refused');
      const moved = await store.getUploadSession(session.id);
      assert.deepEqual({ ...moved, lastAppend: undefined }, { ...session, ...to, lastAppend: undefined });
      assert.equal(typeof moved?.lastAppend, 'string');
      assert.deepEqual(await store.expiredUploadSessions(1_500_000_000_000), [expired]);
      for (const s of [session, expired]) await store.deleteUploadSession(s.id);
      assert.equal(await store.getUploadSession(session.id), undefined);
    });

    it('keeps the audit log in order', async () => {
      for (const n of [1, 2, 3]) await store.audit(`who${n}`, 'act', 'target', `d${n}`);
      assert.deepEqual(
        (await store.listAudit(2)).map((e) => e.who),
        ['who2', 'who3'],
      );
      assert.equal(typeof (await store.listAudit(1))[0]?.seq, 'number');
    });
  });
}

const sqliteDir = mkdtempSync(path.join(tmpdir(), 'vmedia-gw-store-'));
after(() => rmSync(sqliteDir, { recursive: true, force: true }));
storeSuite('SQLite', () => Promise.resolve(openSqliteStore(path.join(sqliteDir, 'gateway.sqlite'))));

let server: PostgresServer;
before(async () => {
  server = await startPostgres();
});
after(() => server?.stop());
/** Pooled connections the server ended, reported by the stores (the server's stop ends the idle ones). */
const lost: Error[] = [];
const openPostgres = (connectionString: string) => openPostgresStore(connectionString, (err) => lost.push(err));
storeSuite('PostgreSQL', () => openPostgres(server.connectionString));

/** The attachments table of the first release, and one row in it. */
const FIRST_RELEASE = [
  `CREATE TABLE attachments (
    id TEXT PRIMARY KEY, bmc TEXT NOT NULL, device TEXT NOT NULL, image_id TEXT NOT NULL, state TEXT NOT NULL,
    slot_uri TEXT, token_hash TEXT, password_hash TEXT, expires_at BIGINT,
    bytes_served BIGINT NOT NULL DEFAULT 0, error TEXT, error_count INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, created_by TEXT NOT NULL, updated_at TEXT NOT NULL)`,
  `INSERT INTO attachments (id, bmc, device, image_id, state, created_at, created_by, updated_at)
   VALUES ('${uuid(50)}', 'b', 'cd', 'i', 'attached', 'then', 't', 'then')`,
];

function upgradeCase(name: string, open: (statements: string[]) => Promise<GatewayStore>): void {
  it(`${name}: adds the columns an older database lacks and keeps its rows`, async () => {
    const store = await open(FIRST_RELEASE);
    try {
      const row = await store.getAttachment(uuid(50));
      assert.deepEqual([row?.state, row?.windowStart, row?.boot, row?.generatedNonce], ['attached', null, null, null]);
      const added = { id: uuid(51), bmc: 'b', device: 'usb' as const, imageId: 'i', createdBy: 't', boot: true };
      assert.equal((await store.createAttachment(added))?.boot, 'requested');
    } finally {
      await store.close();
    }
  });
}

describe('gateway store: an older database upgrades', () => {
  upgradeCase('SQLite', (statements) => {
    const file = path.join(sqliteDir, 'old.sqlite');
    const old = new Database(file);
    for (const sql of statements) old.exec(sql);
    old.close();
    return Promise.resolve(openSqliteStore(file));
  });
  upgradeCase('PostgreSQL', async (statements) => {
    const admin = new pg.Client({ connectionString: server.connectionString });
    await admin.connect();
    await admin.query('CREATE DATABASE first_release');
    await admin.end();
    const connectionString = server.connectionString.replace('/postgres?', '/first_release?');
    const old = new pg.Client({ connectionString });
    await old.connect();
    for (const sql of statements) await old.query(sql);
    await old.end();
    return openPostgres(connectionString);
  });
});

describe('gateway store: two gateways on one PostgreSQL', () => {
  it('never both create a live attachment for one BMC device, and never hold one BMC at once', async () => {
    const [a, b] = [await openPostgres(server.connectionString), await openPostgres(server.connectionString)];
    try {
      await a.addBmc(bmc('shared'));
      const created = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? a : b).createAttachment({
            id: uuid(100 + i),
            bmc: 'shared',
            device: 'cd',
            imageId: 'i',
            createdBy: 't',
          }),
        ),
      );
      assert.equal(created.filter(Boolean).length, 1);

      let holders = 0;
      let most = 0;
      const hold = (store: GatewayStore) =>
        store.withBmcLock('shared', async () => {
          most = Math.max(most, ++holders);
          await new Promise((resolve) => setTimeout(resolve, 20));
          holders--;
        });
      await Promise.all(Array.from({ length: 10 }, (_, i) => hold(i % 2 ? a : b)));
      assert.equal(most, 1, 'one holder at a time');

      // different BMCs are not serialised
      let together = 0;
      let overlapped = false;
      await Promise.all(
        ['x', 'y'].map((name, i) =>
          (i ? a : b).withBmcLock(name, async () => {
            together++;
            await new Promise((resolve) => setTimeout(resolve, 200));
            overlapped ||= together === 2;
            together--;
          }),
        ),
      );
      assert.ok(overlapped);

      // a window opens once: of 20 concurrent claims from both gateways, one changes the state
      await a.createAttachment({
        id: uuid(200),
        bmc: 'shared',
        device: 'usb',
        imageId: 'i',
        createdBy: 't',
        windowStart: 1,
        windowEnd: 2,
        scheduled: true,
      });
      const claims = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).changeState(uuid(200), ['scheduled'], 'attaching')),
      );
      assert.deepEqual(
        claims.filter((c) => c === 'changed'),
        ['changed'],
      );
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('gateway store: PostgreSQL ends its connections', () => {
  it('an idle connection the server ends is reported and replaced: the store goes on, the process does not crash', async () => {
    const store = await openPostgres(server.connectionString);
    const admin = new pg.Client({ connectionString: server.connectionString });
    await admin.connect();
    try {
      await store.addBmc(bmc('restarted'));
      await store.withBmcLock('restarted', async () => undefined); // an idle connection in each pool
      const before = lost.length;
      // what a restart or an administrator does to every other session
      const ended = await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      );
      assert.ok(ended.rowCount! >= 2, `ended ${ended.rowCount} sessions`);
      await waitFor('both pools to report their ended connection', () => lost.length >= before + 2, {
        timeoutMs: 10_000,
      });
      assert.match(lost.at(-1)!.message, /terminating connection due to administrator command/);
      assert.equal((await store.getBmc('restarted'))?.name, 'restarted');
      assert.equal(await store.withBmcLock('restarted', async () => 'held'), 'held');
    } finally {
      await admin.end();
      await store.close();
    }
  });
});
