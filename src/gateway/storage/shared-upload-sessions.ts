// Resumable uploads with shared storage (`--storage oci://` on one `--postgres`): any gateway
// continues a session another opened. The bytes go straight to the registry's own chunked blob
// upload (OCI distribution spec: POST → Location, PATCH pieces, GET of the Location tells what it
// holds, PUT ?digest= completes it) and the session's record — its owner, its name, the upload's
// latest Location and offset, its expiry — to the shared database. The REGISTRY checks the digest
// at the final PUT (DIGEST_INVALID on a mismatch), so no gateway keeps a hash state; at each piece
// the registry's status is asked first, so an offset is never trusted from a gateway's memory.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { SharedUploadSession, GatewayStore } from '../db/store.js';
import { badRequest, conflict, GatewayError, notFound } from '../errors.js';
import type { Logger } from '../../log.js';
import { mediaTypeOf, type ImageMetadata, type ImageRepository } from '../repository/image-repository.js';
import {
  checkSessionRequest,
  OffsetMismatch,
  pieceRefusal,
  parseSessionDigest,
  SESSION_ID,
  type ResumableUploads,
  type SessionCaller,
  type UploadSessionOptions,
  type UploadSessionView,
} from '../repository/upload-session.js';
import type { OciRegistry, OciRepository, UploadState } from '../sources/oci-registry.js';
import { storageFailure, type OciStorage } from './oci-storage.js';

export interface SharedUploadParts {
  store: GatewayStore;
  repository: ImageRepository;
  storage: OciStorage;
  registry: OciRegistry;
  repo: OciRepository;
  log: Logger;
}

export class SharedUploadSessions implements ResumableUploads {
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly p: SharedUploadParts,
    private readonly o: UploadSessionOptions,
  ) {}

  /** Deletes the expired sessions (and their registry uploads) now and every quarter of the TTL. */
  start(): void {
    const sweep = () =>
      void this.sweep().catch((err: unknown) =>
        this.p.log.warn({ err: (err as Error).message }, 'sweeping the expired upload sessions failed'),
      );
    sweep();
    this.sweepTimer = setInterval(sweep, Math.min(60_000, Math.max(500, this.o.ttlMs / 4)));
    this.sweepTimer.unref();
  }

  stop(): void {
    clearInterval(this.sweepTimer);
  }

  async create(req: { name: string; size?: number; createdBy: string }): Promise<UploadSessionView> {
    checkSessionRequest(req, this.o, await this.p.store.countUploadSessions(req.createdBy, Date.now()));
    const session: SharedUploadSession = {
      id: randomUUID(),
      name: req.name,
      size: req.size ?? null,
      createdBy: req.createdBy,
      location: await this.p.registry.startUpload(this.p.repo).catch(storageFailure),
      offset: 0,
      created: new Date().toISOString(),
      lastAppend: null,
      expiresAt: Date.now() + this.o.ttlMs,
    };
    await this.p.store.createUploadSession(session);
    return viewOf(session);
  }

  async get(id: string, who: SessionCaller): Promise<UploadSessionView> {
    const session = await this.session(id, who);
    return viewOf({ ...session, offset: (await this.registryState(session)).offset });
  }

  async append(id: string, who: SessionCaller, start: number, body: Readable, length?: number): Promise<number> {
    const session = await this.session(id, who);
    // what the registry holds (a piece cut off may have left bytes); also makes the push token
    // fresh, which the streamed PATCH needs (it cannot be sent twice)
    const state = await this.registryState(session);
    if (start !== state.offset) throw new OffsetMismatch(state.offset, start);
    const check = pieceRefusal(session.size, this.o, state.offset, length);
    const counted = { size: state.offset, refused: undefined as GatewayError | undefined };
    let appended: UploadState;
    try {
      appended = await this.p.registry.appendUpload(
        this.p.repo,
        state.location,
        Readable.from(counting(body, counted, check)),
        () => counted.size,
      );
    } catch (err) {
      throw counted.refused ?? storageFailure(err);
    }
    const moved = await this.p.store.advanceUploadSession(id, session.offset, {
      ...appended,
      expiresAt: Date.now() + this.o.ttlMs,
    });
    if (!moved) throw conflict(`upload session ${id} was appended to by another request`);
    return appended.offset;
  }

  async finish(id: string, who: SessionCaller, digest: string): Promise<ImageMetadata> {
    const sha256 = parseSessionDigest(digest);
    const session = await this.session(id, who);
    const state = await this.registryState(session);
    if (session.size !== null && state.offset !== session.size)
      throw badRequest(`the session has ${state.offset} of its ${session.size} bytes`);
    const whole = await this.p.registry
      .completeUpload(this.p.repo, state.location, `sha256:${sha256}`)
      .catch(storageFailure);
    if (!whole) {
      // the registry keeps a refused upload open: it is cancelled with its session
      await this.drop(session, state.location);
      throw new GatewayError(
        422,
        'DigestMismatch',
        `the uploaded bytes do not have sha256 ${sha256} (the registry checked them): the session is cancelled`,
      );
    }
    const meta: ImageMetadata = {
      id: randomUUID(),
      name: session.name,
      size: state.offset,
      sha256,
      mediaType: mediaTypeOf(session.name),
      created: new Date().toISOString(),
      createdBy: session.createdBy,
      grants: [],
    };
    const image = await this.p.repository.record({ ...meta, stored: await this.p.storage.keepUploaded(meta) });
    await this.p.store.deleteUploadSession(id);
    return image;
  }

  async cancel(id: string, who: SessionCaller): Promise<void> {
    const session = await this.session(id, who);
    await this.drop(session, session.location);
  }

  /** Deletes the sessions past their expiry, with their registry uploads. */
  async sweep(): Promise<void> {
    for (const session of await this.p.store.expiredUploadSessions(Date.now()))
      await this.drop(session, session.location);
  }

  private async drop(session: SharedUploadSession, location: string): Promise<void> {
    await this.p.registry.cancelUpload(this.p.repo, location).catch(storageFailure);
    await this.p.store.deleteUploadSession(session.id);
  }

  /**
   * The registry's upload status (its offset and the Location to continue at); a session whose
   * upload the registry no longer has is deleted (404).
   */
  private async registryState(session: SharedUploadSession): Promise<UploadState> {
    const state = await this.p.registry
      .uploadStatus(this.p.repo, session.location, session.offset)
      .catch(storageFailure);
    if (state) return state;
    await this.p.store.deleteUploadSession(session.id);
    throw notFound(`upload session ${session.id}: the registry dropped its upload (open a new session)`);
  }

  private async session(id: string, who: SessionCaller): Promise<SharedUploadSession> {
    const session = SESSION_ID.test(id) ? await this.p.store.getUploadSession(id) : undefined;
    if (!session || (session.createdBy !== who.name && !who.admin) || session.expiresAt <= Date.now())
      throw notFound(`upload session ${id}`);
    return session;
  }
}

const viewOf = (s: SharedUploadSession): UploadSessionView => ({
  id: s.id,
  name: s.name,
  size: s.size,
  createdBy: s.createdBy,
  created: s.created,
  expiresAt: s.expiresAt,
  offset: s.offset,
});

/** The body's chunks, counted into `counted.size`; a refusal of `check` ends them (and is kept). */
async function* counting(
  body: AsyncIterable<Buffer>,
  counted: { size: number; refused: GatewayError | undefined },
  check: (size: number) => GatewayError | undefined,
) {
  for await (const chunk of body) {
    counted.refused = check(counted.size + chunk.length);
    if (counted.refused) throw counted.refused;
    counted.size += chunk.length;
    yield chunk;
  }
}
