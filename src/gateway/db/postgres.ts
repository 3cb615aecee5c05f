// The shared database: PostgreSQL, for several gateways in front of one fleet. The partial unique
// index keeps one live attachment per BMC and device across gateways, and a session-level advisory
// lock per BMC (held on a pooled connection for the whole operation) keeps two gateways from
// driving one BMC at once. Connection settings come from the connection string and libpq's
// variables (PGHOST, PGUSER, PGPASSWORD or ~/.pgpass...): never a password in the string, which
// would be in argv.
import pg from 'pg';
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
import type { GatewayStore } from './store.js';

const LIVE = LIVE_STATES.map((s) => `'${s}'`).join(', ');

const SCHEMA = `
CREATE TABLE IF NOT EXISTS bmcs (
  name TEXT PRIMARY KEY, redfish_url TEXT NOT NULL, username TEXT NOT NULL, password TEXT NOT NULL,
  ca_pem TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attachments (
  id TEXT PRIMARY KEY, bmc TEXT NOT NULL, device TEXT NOT NULL, image_id TEXT NOT NULL, state TEXT NOT NULL,
  slot_uri TEXT, token_hash TEXT UNIQUE, password_hash TEXT, expires_at BIGINT,
  bytes_served BIGINT NOT NULL DEFAULT 0, error TEXT, error_count INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL, created_by TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS one_live_attachment_per_device ON attachments (bmc, device)
  WHERE state IN (${LIVE});
CREATE TABLE IF NOT EXISTS audit (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at TEXT NOT NULL, who TEXT NOT NULL,
  action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, size BIGINT NOT NULL, sha256 TEXT NOT NULL, media_type TEXT NOT NULL,
  created_at TEXT NOT NULL, created_by TEXT NOT NULL, grants TEXT NOT NULL, source TEXT, state TEXT, error TEXT,
  stored TEXT);
CREATE TABLE IF NOT EXISTS upload_sessions (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, size BIGINT, created_by TEXT NOT NULL, location TEXT NOT NULL,
  upload_offset BIGINT NOT NULL, created_at TEXT NOT NULL, last_append TEXT, expires_at BIGINT NOT NULL);
ALTER TABLE attachments ADD COLUMN IF NOT EXISTS window_start BIGINT, ADD COLUMN IF NOT EXISTS window_end BIGINT,
  ADD COLUMN IF NOT EXISTS boot TEXT, ADD COLUMN IF NOT EXISTS generated_nonce TEXT;
`;

/** PostgreSQL's code for a unique violation. */
const UNIQUE_VIOLATION = '23505';

/**
 * `onConnectionLost`: an idle pooled connection failed (the server restarted or ended it); the
 * pool drops it and opens another for the next query.
 */
export async function openPostgresStore(
  connectionString: string,
  onConnectionLost: (err: Error) => void,
): Promise<GatewayStore> {
  if (/^postgres(?:ql)?:\/\/[^/@]*:[^/@]*@/.test(connectionString) || /password=/i.test(connectionString))
    throw new Error('the PostgreSQL connection string must not hold a password: use PGPASSWORD or ~/.pgpass');
  const pool = new pg.Pool({ connectionString, max: 8 });
  // each held BMC lock keeps a connection: a pool of their own, so that the queries of the
  // operations holding them never wait for a connection a lock holds
  const lockPool = new pg.Pool({ connectionString, max: 64 });
  // a pool emits 'error' for an idle connection the server ended: without a listener that is an
  // uncaught exception, and a database restart would take the gateway down with it
  pool.on('error', onConnectionLost);
  lockPool.on('error', onConnectionLost);
  // two gateways starting at once both create the schema: one at a time
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock(hashtext('vmedia-gateway-schema'))");
    await client.query(SCHEMA);
    await client.query("SELECT pg_advisory_unlock(hashtext('vmedia-gateway-schema'))");
  } finally {
    client.release();
  }
  const now = () => new Date().toISOString();
  const sessionSql = uploadSessionSql((i) => `$${i + 1}`);
  const attachmentRows = async (sql: string, args: unknown[]) =>
    (await pool.query<AttachmentRow>(sql, args)).rows.map(toAttachment);

  return {
    addBmc: async (b) => {
      await pool.query(
        'INSERT INTO bmcs (name, redfish_url, username, password, ca_pem, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [b.name, b.redfishUrl, b.username, b.password, b.caPem, b.createdAt, b.createdBy],
      );
    },
    getBmc: async (name) => {
      const row = (await pool.query<BmcRow>('SELECT * FROM bmcs WHERE name = $1', [name])).rows[0];
      return row && toBmc(row);
    },
    listBmcs: async () => (await pool.query<BmcRow>('SELECT * FROM bmcs ORDER BY name')).rows.map(toBmc),
    deleteBmc: async (name) => {
      await pool.query('DELETE FROM bmcs WHERE name = $1', [name]);
    },

    createAttachment: async (a) => {
      const at = now();
      try {
        const rows = await attachmentRows(
          `INSERT INTO attachments (id, bmc, device, image_id, state, window_start, window_end, boot, generated_nonce,
             created_at, created_by, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $10) RETURNING *`,
          [
            a.id,
            a.bmc,
            a.device,
            a.imageId,
            a.scheduled ? 'scheduled' : 'attaching',
            a.windowStart ?? null,
            a.windowEnd ?? null,
            a.boot ? 'requested' : null,
            a.generatedNonce ?? null,
            at,
            a.createdBy,
          ],
        );
        return rows[0];
      } catch (err) {
        if ((err as { code?: string }).code === UNIQUE_VIOLATION) return undefined;
        throw err;
      }
    },
    getAttachment: async (id) => (await attachmentRows('SELECT * FROM attachments WHERE id = $1', [id]))[0],
    findAttachmentByToken: async (tokenHash) =>
      (await attachmentRows('SELECT * FROM attachments WHERE token_hash = $1', [tokenHash]))[0],
    listAttachments: async (filter = {}) => {
      const where: string[] = [];
      const args: unknown[] = [];
      if (filter.bmc !== undefined) where.push(`bmc = $${args.push(filter.bmc)}`);
      if (filter.imageId !== undefined) where.push(`image_id = $${args.push(filter.imageId)}`);
      if (filter.states) where.push(`state = ANY($${args.push(filter.states)})`);
      return attachmentRows(
        `SELECT * FROM attachments${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`,
        args,
      );
    },
    updateAttachment: async (id, update) => {
      const args: unknown[] = [now()];
      const sets = ['updated_at = $1'];
      for (const [key, column] of Object.entries(UPDATE_COLUMNS) as [keyof typeof UPDATE_COLUMNS, string][])
        if (key in update) sets.push(`${column} = $${args.push(update[key] ?? null)}`);
      if (update.failed) sets.push('error_count = error_count + 1');
      await pool.query(`UPDATE attachments SET ${sets.join(', ')} WHERE id = $${args.push(id)}`, args);
    },
    changeState: async (id, from, to) => {
      try {
        const r = await pool.query(
          'UPDATE attachments SET state = $1, updated_at = $2 WHERE id = $3 AND state = ANY($4)',
          [to, now(), id, from],
        );
        return r.rowCount === 1 ? 'changed' : 'unchanged';
      } catch (err) {
        if ((err as { code?: string }).code === UNIQUE_VIOLATION) return 'device-busy';
        throw err;
      }
    },
    beginDetach: async (id) => {
      const r = await pool.query(
        `UPDATE attachments SET state = 'detaching', updated_at = $1 WHERE id = $2 AND state IN (${LIVE})`,
        [now(), id],
      );
      return r.rowCount === 1;
    },
    addBytesServed: async (id, bytes) => {
      await pool.query('UPDATE attachments SET bytes_served = bytes_served + $1 WHERE id = $2', [bytes, id]);
    },

    putImage: async (image) => {
      await pool.query(
        upsertImageSql((i) => `$${i + 1}`),
        imageValues(image),
      );
    },
    getImage: async (id) => {
      const row = (await pool.query<ImageRow>('SELECT * FROM images WHERE id = $1', [id])).rows[0];
      return row && toImage(row);
    },
    listImages: async () =>
      (await pool.query<ImageRow>('SELECT * FROM images ORDER BY created_at, id')).rows.map(toImage),
    deleteImage: async (id) => {
      await pool.query('DELETE FROM images WHERE id = $1', [id]);
    },

    createUploadSession: async (session) => {
      await pool.query(sessionSql.insert, uploadSessionValues(session));
    },
    getUploadSession: async (id) => {
      const row = (await pool.query<UploadSessionRow>(sessionSql.get, [id])).rows[0];
      return row && toUploadSession(row);
    },
    countUploadSessions: async (createdBy, at) =>
      Number((await pool.query<{ n: string }>(sessionSql.countOpen, [createdBy, at])).rows[0]!.n),
    advanceUploadSession: async (id, from, to) =>
      (await pool.query(sessionSql.advance, [to.offset, to.location, now(), to.expiresAt, id, from])).rowCount === 1,
    deleteUploadSession: async (id) => {
      await pool.query(sessionSql.remove, [id]);
    },
    expiredUploadSessions: async (at) =>
      (await pool.query<UploadSessionRow>(sessionSql.expired, [at])).rows.map(toUploadSession),

    audit: async (who, action, target, detail = '') => {
      await pool.query('INSERT INTO audit (at, who, action, target, detail) VALUES ($1, $2, $3, $4, $5)', [
        now(),
        who,
        action,
        target,
        detail,
      ]);
    },
    listAudit: async (limit) =>
      (
        await pool.query<AuditEntry & { seq: string }>(
          'SELECT * FROM (SELECT * FROM audit ORDER BY seq DESC LIMIT $1) recent ORDER BY seq',
          [limit],
        )
      ).rows.map((e) => ({ ...e, seq: Number(e.seq) })),

    withBmcLock: async (bmc, op) => {
      const lockClient = await lockPool.connect();
      try {
        await lockClient.query("SELECT pg_advisory_lock(hashtext('vmedia-gateway-bmc:' || $1))", [bmc]);
        try {
          return await op();
        } finally {
          await lockClient.query("SELECT pg_advisory_unlock(hashtext('vmedia-gateway-bmc:' || $1))", [bmc]);
        }
      } finally {
        lockClient.release();
      }
    },

    close: async () => {
      await pool.end();
      await lockPool.end();
    },
  };
}
