// Resumable uploads, as tus and OCI's chunked blob upload do them: a session is opened, its bytes
// are appended in pieces at the offset the gateway reports (a piece cut off keeps what arrived),
// and the final PUT names the sha256 the whole must have: only then, and only when it matches, is
// the file renamed into the repository as an image. Sessions live in `<images>/.sessions`
// (`<id>.json` and `<id>.part`, same file system as the images), so a gateway restart resumes
// them: the sha256 state of a part is kept in memory while the gateway runs and recomputed from
// the part after a restart (Node cannot save a hash's state). A session idle past its TTL is
// removed with its bytes. With shared storage, sessions are the registry's chunked uploads instead
// (storage/shared-upload-sessions.ts): the same contract, ResumableUploads.
import { createHash, randomUUID, type Hash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { badRequest, conflict, GatewayError, notFound } from '../errors.js';
import {
  checkDigest,
  checkImageName,
  hashing,
  tooLarge,
  type ImageMetadata,
  type ImageRepository,
} from './image-repository.js';

export interface UploadSessionOptions {
  /** Largest image a session may grow to. */
  maxBytes: number;
  /** A session not appended to for this long is removed. */
  ttlMs: number;
  /** Open sessions one token may have. */
  maxOpenPerOwner: number;
}

interface SessionRecord {
  id: string;
  name: string;
  /** The size the client announced, if any: the session cannot grow past it and must reach it. */
  size: number | null;
  createdBy: string;
  created: string;
  expiresAt: number;
}

export interface UploadSessionView extends SessionRecord {
  /** Bytes received so far: the next piece starts here. */
  offset: number;
}

/** Who asks: a session is its creator's (and admins'); for anyone else it does not exist. */
export interface SessionCaller {
  name: string;
  admin: boolean;
}

/** What /api/uploads asks of the sessions: local ones (here) or shared ones (on the registry). */
export interface ResumableUploads {
  start(): void;
  stop(): void;
  create(req: { name: string; size?: number; createdBy: string }): UploadSessionView | Promise<UploadSessionView>;
  get(id: string, who: SessionCaller): UploadSessionView | Promise<UploadSessionView>;
  append(id: string, who: SessionCaller, start: number, body: Readable, length?: number): Promise<number>;
  finish(id: string, who: SessionCaller, digest: string): Promise<ImageMetadata>;
  cancel(id: string, who: SessionCaller): Promise<void>;
}

export const SESSION_ID = /^[0-9a-f-]{36}$/;

/** The hex sha256 of a final PUT's `digest` ("sha256:<hex>"); 400 for anything else. */
export function parseSessionDigest(digest: string): string {
  const m = /^sha256:([0-9a-f]{64})$/.exec(digest.toLowerCase());
  if (!m) throw badRequest('digest: sha256:<64 hex digits>');
  return m[1]!;
}

/**
 * Refuses a new session: a bad name or size (400), past the size limit (413), or when its owner has
 * `open` sessions already, the most it may (409).
 */
export function checkSessionRequest(
  req: { name: string; size?: number; createdBy: string },
  o: UploadSessionOptions,
  open: number,
): void {
  checkImageName(req.name);
  if (req.size !== undefined && !(Number.isSafeInteger(req.size) && req.size >= 0))
    throw badRequest('size: a whole number of bytes');
  if (req.size !== undefined && req.size > o.maxBytes) throw tooLarge(o.maxBytes);
  if (open >= o.maxOpenPerOwner)
    throw conflict(`${req.createdBy} has ${open} open upload sessions: finish or cancel one first`);
}

/**
 * What a piece starting at `offset` may not grow past, given the session's announced `size` and
 * the piece's declared `length`: the refusal for a session total `total`, if any.
 */
export function pieceRefusal(size: number | null, o: UploadSessionOptions, offset: number, length?: number) {
  const limit = Math.min(size ?? o.maxBytes, o.maxBytes);
  return (total: number): GatewayError | undefined => {
    if (total > limit)
      return size !== null && limit === size ? badRequest(`the session was opened for ${size} bytes`) : tooLarge(limit);
    if (length !== undefined && total - offset > length)
      return badRequest(`the body is longer than its Content-Range (${length} bytes)`);
    return undefined;
  };
}

export class UploadSessions implements ResumableUploads {
  readonly dir: string;
  /** sha256 state of each part, with the offset it covers. */
  private readonly hashes = new Map<string, { hash: Hash; offset: number }>();
  private readonly busy = new Set<string>();
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly repository: ImageRepository,
    private readonly o: UploadSessionOptions,
  ) {
    this.dir = path.join(repository.dir, '.sessions');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Removes the expired sessions now and then every quarter of the TTL (at most every minute). */
  start(): void {
    this.sweep();
    this.sweepTimer = setInterval(() => this.sweep(), Math.min(60_000, Math.max(500, this.o.ttlMs / 4)));
    this.sweepTimer.unref();
  }

  stop(): void {
    clearInterval(this.sweepTimer);
  }

  create(req: { name: string; size?: number; createdBy: string }): UploadSessionView {
    checkSessionRequest(req, this.o, this.records().filter((s) => s.createdBy === req.createdBy).length);
    const record: SessionRecord = {
      id: randomUUID(),
      name: req.name,
      size: req.size ?? null,
      createdBy: req.createdBy,
      created: new Date().toISOString(),
      expiresAt: Date.now() + this.o.ttlMs,
    };
    writeFileSync(this.partPath(record.id), '', { mode: 0o600 });
    this.writeRecord(record);
    return { ...record, offset: 0 };
  }

  get(id: string, who: SessionCaller): UploadSessionView {
    const record = this.record(id, who);
    return { ...record, offset: this.offsetOf(id) };
  }

  /**
   * Appends `body` at `start`, which must be the session's offset (409 otherwise: the client asks
   * HEAD and resumes there). Resolves to the new offset. `length`, when the client declared one
   * (Content-Range), is the most this piece may carry.
   */
  async append(id: string, who: SessionCaller, start: number, body: Readable, length?: number): Promise<number> {
    const record = this.record(id, who);
    return this.exclusive(id, async () => {
      const offset = this.offsetOf(id);
      if (start !== offset) throw new OffsetMismatch(offset, start);
      const hash = await this.hashAt(id, offset);
      const refusal = pieceRefusal(record.size, this.o, offset, length);
      const counted = { size: offset };
      try {
        await pipeline(
          body,
          hashing(hash, counted, (size) => {
            const refused = refusal(size);
            if (refused) throw refused;
          }),
          createWriteStream(this.partPath(id), { flags: 'a', flush: true }),
        );
      } catch (err) {
        // the part may hold fewer bytes than were hashed: hash it again at the next piece
        this.hashes.delete(id);
        throw err;
      }
      this.hashes.set(id, { hash, offset: counted.size });
      this.writeRecord({ ...record, expiresAt: Date.now() + this.o.ttlMs });
      return counted.size;
    });
  }

  /**
   * Checks the whole against `digest` ("sha256:<hex>") and makes it an image; on a mismatch (422)
   * nothing is created and the session stays (the client may cancel it).
   */
  async finish(id: string, who: SessionCaller, digest: string): Promise<ImageMetadata> {
    const claimed = parseSessionDigest(digest);
    const record = this.record(id, who);
    return this.exclusive(id, async () => {
      const offset = this.offsetOf(id);
      if (record.size !== null && offset !== record.size)
        throw badRequest(`the session has ${offset} of its ${record.size} bytes`);
      const sha256 = (await this.hashAt(id, offset)).copy().digest('hex');
      checkDigest(sha256, claimed);
      const image = await this.repository.add(this.partPath(id), {
        id: randomUUID(),
        name: record.name,
        size: offset,
        sha256,
        createdBy: record.createdBy,
      });
      this.remove(id);
      return image;
    });
  }

  cancel(id: string, who: SessionCaller): Promise<void> {
    this.record(id, who);
    return this.exclusive(id, () => Promise.resolve(this.remove(id)));
  }

  /** Removes the sessions past their TTL (and parts without a session: a crash between files). */
  sweep(): void {
    const now = Date.now();
    for (const record of this.records())
      if (record.expiresAt <= now && !this.busy.has(record.id)) this.remove(record.id);
    for (const f of readdirSync(this.dir)) {
      const id = f.replace(/\.(part|json\.tmp)$/, '');
      if (id !== f && !this.busy.has(id) && !this.readRecord(id)) rmSync(path.join(this.dir, f), { force: true });
    }
  }

  private async exclusive<T>(id: string, op: () => Promise<T>): Promise<T> {
    if (this.busy.has(id)) throw conflict(`upload session ${id} is receiving another request`);
    this.busy.add(id);
    try {
      return await op();
    } finally {
      this.busy.delete(id);
    }
  }

  /** The sha256 state of the part's first `offset` bytes: kept, or computed again from the part. */
  private async hashAt(id: string, offset: number): Promise<Hash> {
    const kept = this.hashes.get(id);
    if (kept?.offset === offset) return kept.hash;
    const hash = createHash('sha256');
    if (offset > 0)
      for await (const chunk of createReadStream(this.partPath(id), { end: offset - 1 })) hash.update(chunk as Buffer);
    this.hashes.set(id, { hash, offset });
    return hash;
  }

  private record(id: string, who: SessionCaller): SessionRecord {
    const record = SESSION_ID.test(id) ? this.readRecord(id) : undefined;
    if (!record || (record.createdBy !== who.name && !who.admin) || record.expiresAt <= Date.now())
      throw notFound(`upload session ${id}`);
    return record;
  }

  private records(): SessionRecord[] {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => this.readRecord(f.slice(0, -5)))
      .filter((r): r is SessionRecord => r !== undefined);
  }

  private readRecord(id: string): SessionRecord | undefined {
    try {
      return JSON.parse(readFileSync(this.recordPath(id), 'utf8')) as SessionRecord;
    } catch {
      return undefined;
    }
  }

  private writeRecord(record: SessionRecord): void {
    const tmp = `${this.recordPath(record.id)}.tmp`;
    writeFileSync(tmp, JSON.stringify(record), { mode: 0o600 });
    renameSync(tmp, this.recordPath(record.id));
  }

  private offsetOf(id: string): number {
    try {
      return statSync(this.partPath(id)).size;
    } catch {
      return 0;
    }
  }

  private remove(id: string): void {
    rmSync(this.recordPath(id), { force: true });
    rmSync(this.partPath(id), { force: true });
    this.hashes.delete(id);
  }

  private recordPath(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  private partPath(id: string): string {
    return path.join(this.dir, `${id}.part`);
  }
}

/** 409 when a piece does not start at the session's offset; the answer tells the offset. */
export class OffsetMismatch extends GatewayError {
  constructor(
    readonly offset: number,
    start: number,
  ) {
    super(409, 'OffsetMismatch', `the session is at offset ${offset}, not ${start}: resume there`);
  }
}
