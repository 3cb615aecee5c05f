// The embedded database (the default): one SQLite file in the gateway's state dir, WAL mode,
// synchronous=FULL so that a state written before a BMC is driven survives a crash of the gateway.
import Database from 'better-sqlite3';
import { LIVE_STATES, type AuditEntry } from '../types.js';
import {
  imageValues,
  toAttachment,
  toBmc,
  toImage,
  UPDATE_COLUMNS,
  toUploadSession,
  upsertImageSql,
  uploadSessionSql,
  uploadSessionValues,
  type AttachmentRow,
  type BmcRow,
  type ImageRow,
  type UploadSessionRow,
} from './rows.js';
import type { AttachmentUpdate, GatewayStore, NewAttachment } from './store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS bmcs (
  name TEXT PRIMARY KEY, redfish_url TEXT NOT NULL, username TEXT NOT NULL, password TEXT NOT NULL,
  ca_pem TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attachments (
  id TEXT PRIMARY KEY, bmc TEXT NOT NULL, device TEXT NOT NULL, image_id TEXT NOT NULL, state TEXT NOT NULL,
  slot_uri TEXT, token_hash TEXT, password_hash TEXT, expires_at INTEGER,
  bytes_served INTEGER NOT NULL DEFAULT 0, error TEXT, error_count INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL, created_by TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS one_live_attachment_per_device ON attachments (bmc, device)
  WHERE state IN (${LIVE_STATES.map((s) => `'${s}'`).join(', ')});
CREATE UNIQUE INDEX IF NOT EXISTS attachment_by_token ON attachments (token_hash);
CREATE TABLE IF NOT EXISTS images (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, media_type TEXT NOT NULL,
  created_at TEXT NOT NULL, created_by TEXT NOT NULL, grants TEXT NOT NULL, source TEXT, state TEXT, error TEXT,
  stored TEXT);
CREATE TABLE IF NOT EXISTS upload_sessions (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, size INTEGER, created_by TEXT NOT NULL, location TEXT NOT NULL,
  upload_offset INTEGER NOT NULL, created_at TEXT NOT NULL, last_append TEXT, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, who TEXT NOT NULL, action TEXT NOT NULL,
  target TEXT NOT NULL, detail TEXT NOT NULL);
`;

/** Columns added after the first release: an existing database gets them at start. */
const ADDED_ATTACHMENT_COLUMNS: [string, string][] = [
  ['window_start', 'INTEGER'],
  ['window_end', 'INTEGER'],
  ['boot', 'TEXT'],
  ['generated_nonce', 'TEXT'],
];

/** SQLite has no ADD COLUMN IF NOT EXISTS: the missing ones are added. */
function addMissingColumns(db: Database.Database, table: string, columns: [string, string][]): void {
  const have = new Set(
    db
      .prepare<[], { name: string }>(`PRAGMA table_info(${table})`)
      .all()
      .map((c) => c.name),
  );
  for (const [name, type] of columns) if (!have.has(name)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${type}`);
}

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';

export function openSqliteStore(file: string): GatewayStore {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  addMissingColumns(db, 'attachments', ADDED_ATTACHMENT_COLUMNS);
  const now = () => new Date().toISOString();
  const liveList = LIVE_STATES.map((s) => `'${s}'`).join(', ');
  const getAttachment = db.prepare<[string], AttachmentRow>('SELECT * FROM attachments WHERE id = ?');
  // prepared once: the media server runs these at every Range request of every BMC
  const attachmentByToken = db.prepare<[string], AttachmentRow>('SELECT * FROM attachments WHERE token_hash = ?');
  const bmcByName = db.prepare<[string], BmcRow>('SELECT * FROM bmcs WHERE name = ?');
  const imageById = db.prepare<[string], ImageRow>('SELECT * FROM images WHERE id = ?');
  const sessionSql = uploadSessionSql(() => '?');

  return rejecting({
    addBmc: (b) => {
      db.prepare(
        'INSERT INTO bmcs (name, redfish_url, username, password, ca_pem, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ).run(b.name, b.redfishUrl, b.username, b.password, b.caPem, b.createdAt, b.createdBy);
      return Promise.resolve();
    },
    getBmc: (name) => {
      const row = bmcByName.get(name);
      return Promise.resolve(row && toBmc(row));
    },
    listBmcs: () => Promise.resolve(db.prepare<[], BmcRow>('SELECT * FROM bmcs ORDER BY name').all().map(toBmc)),
    deleteBmc: (name) => {
      db.prepare('DELETE FROM bmcs WHERE name = ?').run(name);
      return Promise.resolve();
    },

    createAttachment: (a: NewAttachment) => {
      const at = now();
      const state = a.scheduled ? 'scheduled' : 'attaching';
      const inserted = db
        .prepare(
          `INSERT INTO attachments (id, bmc, device, image_id, state, window_start, window_end, boot, generated_nonce,
             created_at, created_by, updated_at)
           SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
           WHERE ? = 'scheduled'
             OR NOT EXISTS (SELECT 1 FROM attachments WHERE bmc = ? AND device = ? AND state IN (${liveList}))`,
        )
        .run(
          a.id,
          a.bmc,
          a.device,
          a.imageId,
          state,
          a.windowStart ?? null,
          a.windowEnd ?? null,
          a.boot ? 'requested' : null,
          a.generatedNonce ?? null,
          at,
          a.createdBy,
          at,
          state,
          a.bmc,
          a.device,
        );
      const row = inserted.changes === 1 ? getAttachment.get(a.id) : undefined;
      return Promise.resolve(row && toAttachment(row));
    },
    getAttachment: (id) => {
      const row = getAttachment.get(id);
      return Promise.resolve(row && toAttachment(row));
    },
    findAttachmentByToken: (tokenHash) => {
      const row = attachmentByToken.get(tokenHash);
      return Promise.resolve(row && toAttachment(row));
    },
    listAttachments: (filter = {}) => {
      const where: string[] = [];
      const args: string[] = [];
      if (filter.bmc !== undefined) {
        where.push('bmc = ?');
        args.push(filter.bmc);
      }
      if (filter.imageId !== undefined) {
        where.push('image_id = ?');
        args.push(filter.imageId);
      }
      if (filter.states) {
        where.push(`state IN (${filter.states.map(() => '?').join(', ')})`);
        args.push(...filter.states);
      }
      const sql = `SELECT * FROM attachments${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`;
      return Promise.resolve(
        db
          .prepare<string[], AttachmentRow>(sql)
          .all(...args)
          .map(toAttachment),
      );
    },
    updateAttachment: (id, update: AttachmentUpdate) => {
      const sets = ['updated_at = ?'];
      const args: (string | number | null)[] = [now()];
      for (const [key, column] of Object.entries(UPDATE_COLUMNS) as [keyof typeof UPDATE_COLUMNS, string][]) {
        if (key in update) {
          sets.push(`${column} = ?`);
          args.push(update[key] ?? null);
        }
      }
      if (update.failed) sets.push('error_count = error_count + 1');
      db.prepare(`UPDATE attachments SET ${sets.join(', ')} WHERE id = ?`).run(...args, id);
      return Promise.resolve();
    },
    changeState: (id, from, to) => {
      try {
        const r = db
          .prepare(
            `UPDATE attachments SET state = ?, updated_at = ? WHERE id = ? AND state IN (${from.map(() => '?').join(', ')})`,
          )
          .run(to, now(), id, ...from);
        return Promise.resolve(r.changes === 1 ? 'changed' : 'unchanged');
      } catch (err) {
        if (isUniqueViolation(err)) return Promise.resolve('device-busy');
        throw err;
      }
    },
    beginDetach: (id) => {
      const r = db
        .prepare(`UPDATE attachments SET state = 'detaching', updated_at = ? WHERE id = ? AND state IN (${liveList})`)
        .run(now(), id);
      return Promise.resolve(r.changes === 1);
    },
    addBytesServed: (id, bytes) => {
      db.prepare('UPDATE attachments SET bytes_served = bytes_served + ? WHERE id = ?').run(bytes, id);
      return Promise.resolve();
    },

    putImage: (image) => {
      db.prepare(upsertImageSql(() => '?')).run(...imageValues(image));
      return Promise.resolve();
    },
    getImage: (id) => {
      const row = imageById.get(id);
      return Promise.resolve(row && toImage(row));
    },
    listImages: () =>
      Promise.resolve(db.prepare<[], ImageRow>('SELECT * FROM images ORDER BY created_at, id').all().map(toImage)),
    deleteImage: (id) => {
      db.prepare('DELETE FROM images WHERE id = ?').run(id);
      return Promise.resolve();
    },

    createUploadSession: (session) => {
      db.prepare(sessionSql.insert).run(...uploadSessionValues(session));
      return Promise.resolve();
    },
    getUploadSession: (id) => {
      const row = db.prepare<[string], UploadSessionRow>(sessionSql.get).get(id);
      return Promise.resolve(row && toUploadSession(row));
    },
    countUploadSessions: (createdBy, at) =>
      Promise.resolve(db.prepare<[string, number], { n: number }>(sessionSql.countOpen).get(createdBy, at)!.n),
    advanceUploadSession: (id, from, to) =>
      Promise.resolve(
        db.prepare(sessionSql.advance).run(to.offset, to.location, now(), to.expiresAt, id, from).changes === 1,
      ),
    deleteUploadSession: (id) => {
      db.prepare(sessionSql.remove).run(id);
      return Promise.resolve();
    },
    expiredUploadSessions: (at) =>
      Promise.resolve(db.prepare<[number], UploadSessionRow>(sessionSql.expired).all(at).map(toUploadSession)),

    audit: (who, action, target, detail = '') => {
      db.prepare('INSERT INTO audit (at, who, action, target, detail) VALUES (?, ?, ?, ?, ?)').run(
        now(),
        who,
        action,
        target,
        detail,
      );
      return Promise.resolve();
    },
    listAudit: (limit) =>
      Promise.resolve(
        db.prepare<[number], AuditEntry>('SELECT * FROM audit ORDER BY seq DESC LIMIT ?').all(limit).reverse(),
      ),

    // one gateway per SQLite file: its own per-BMC queue is the lock
    withBmcLock: (_bmc, op) => op(),

    close: () => {
      db.close();
      return Promise.resolve();
    },
  });
}

/** better-sqlite3 is synchronous: its throws become rejections, as a server database's errors are. */
function rejecting(store: GatewayStore): GatewayStore {
  return Object.fromEntries(
    Object.entries(store).map(([key, method]) => [
      key,
      (...args: unknown[]) => {
        // a throw inside the executor rejects the promise
        return new Promise((resolve) => resolve((method as (...a: unknown[]) => Promise<unknown>)(...args)));
      },
    ]),
  ) as unknown as GatewayStore;
}
