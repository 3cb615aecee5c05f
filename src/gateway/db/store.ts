// What the gateway keeps in its database: BMCs, attachments and the audit log. Asynchronous so that
// a server database (PostgreSQL) can implement it as well as the embedded SQLite.
import type { ImageMetadata } from '../repository/image-repository.js';
import type { AttachmentRecord, AttachmentState, AuditEntry, BmcRecord, DeviceType } from '../types.js';

export interface NewAttachment {
  id: string;
  bmc: string;
  device: DeviceType;
  imageId: string;
  createdBy: string;
  /** With a window: `scheduled` until its start (holding no device yet); otherwise `attaching`. */
  windowStart?: number;
  windowEnd?: number;
  scheduled?: boolean;
  boot?: boolean;
  generatedNonce?: string;
}

/** What a conditional state change did: changed, the row was not in a `from` state, or the device
 *  already has a live attachment (the change would have made a second one). */
export type StateChange = 'changed' | 'unchanged' | 'device-busy';

/** Fields an operation changes on an attachment; the rest stay. */
export type AttachmentUpdate = Partial<
  Pick<AttachmentRecord, 'state' | 'slotUri' | 'tokenHash' | 'passwordHash' | 'expiresAt' | 'boot' | 'error'>
> & { failed?: boolean };

/** A resumable upload session with `--storage oci://` (storage/shared-upload-sessions.ts): any
 *  gateway on the database continues it. */
export interface SharedUploadSession {
  id: string;
  name: string;
  /** The size the client announced, if any. */
  size: number | null;
  createdBy: string;
  /** The registry upload's Location (its latest: the registry's answers carry the upload's state). */
  location: string;
  /** Bytes the registry holds: the next piece starts here. */
  offset: number;
  created: string;
  lastAppend: string | null;
  /** ms since the epoch: past it the session is swept (the registry upload deleted). */
  expiresAt: number;
}

/** What a piece changed on a session: its new offset, Location and expiry. */
export interface SessionAdvance {
  offset: number;
  location: string;
  expiresAt: number;
}

export interface GatewayStore {
  addBmc(bmc: BmcRecord): Promise<void>;
  getBmc(name: string): Promise<BmcRecord | undefined>;
  listBmcs(): Promise<BmcRecord[]>;
  deleteBmc(name: string): Promise<void>;

  /** Inserts the attachment as `attaching` (or `scheduled`); undefined when it would be live and the
   *  BMC's device already has a live one. */
  createAttachment(a: NewAttachment): Promise<AttachmentRecord | undefined>;
  getAttachment(id: string): Promise<AttachmentRecord | undefined>;
  findAttachmentByToken(tokenHash: string): Promise<AttachmentRecord | undefined>;
  listAttachments(filter?: {
    bmc?: string;
    imageId?: string;
    states?: readonly AttachmentState[];
  }): Promise<AttachmentRecord[]>;
  /** `failed: true` also counts one more error. */
  updateAttachment(id: string, update: AttachmentUpdate): Promise<void>;
  /** Moves the attachment from one of `from` to `to` in one statement: of two gateways, one wins. */
  changeState(id: string, from: readonly AttachmentState[], to: AttachmentState): Promise<StateChange>;
  /** Moves a live attachment to `detaching`; false when it was not live. */
  beginDetach(id: string): Promise<boolean>;
  addBytesServed(id: string, bytes: number): Promise<void>;

  /** Images' metadata, with `--storage oci://` (the bytes are in the registry): shared by every
   *  gateway on the database. putImage inserts or replaces the image with that id. */
  putImage(image: ImageMetadata): Promise<void>;
  getImage(id: string): Promise<ImageMetadata | undefined>;
  /** Oldest first. */
  listImages(): Promise<ImageMetadata[]>;
  deleteImage(id: string): Promise<void>;

  createUploadSession(session: SharedUploadSession): Promise<void>;
  getUploadSession(id: string): Promise<SharedUploadSession | undefined>;
  /** The sessions of `createdBy` not expired at `now`. */
  countUploadSessions(createdBy: string, now: number): Promise<number>;
  /** Moves the session from offset `from` on; false when another request moved it first. */
  advanceUploadSession(id: string, from: number, to: SessionAdvance): Promise<boolean>;
  deleteUploadSession(id: string): Promise<void>;
  expiredUploadSessions(now: number): Promise<SharedUploadSession[]>;

  audit(who: string, action: string, target: string, detail?: string): Promise<void>;
  listAudit(limit: number): Promise<AuditEntry[]>;

  /**
   * Runs `op` holding this BMC's lock across every gateway sharing the database (PostgreSQL: an
   * advisory lock), so that two gateways never drive one BMC at once.
   */
  withBmcLock<T>(bmc: string, op: () => Promise<T>): Promise<T>;

  close(): Promise<void>;
}
