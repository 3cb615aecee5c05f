// The database's rows as both stores read them, and the columns an update may set.
import type { ImageMetadata } from '../repository/image-repository.js';
import type { AttachmentRecord, BmcRecord } from '../types.js';
import type { AttachmentUpdate, SharedUploadSession } from './store.js';

export interface AttachmentRow {
  id: string;
  bmc: string;
  device: string;
  image_id: string;
  state: string;
  slot_uri: string | null;
  token_hash: string | null;
  password_hash: string | null;
  /** BIGINT: PostgreSQL's driver gives it as a string. */
  expires_at: number | string | null;
  bytes_served: number | string;
  /** BIGINT, like expires_at. */
  window_start: number | string | null;
  window_end: number | string | null;
  boot: string | null;
  generated_nonce: string | null;
  error: string | null;
  error_count: number;
  created_at: string;
  created_by: string;
  updated_at: string;
}

export interface BmcRow {
  name: string;
  redfish_url: string;
  username: string;
  password: string;
  ca_pem: string;
  created_at: string;
  created_by: string;
}

export const toAttachment = (r: AttachmentRow): AttachmentRecord => ({
  id: r.id,
  bmc: r.bmc,
  device: r.device as AttachmentRecord['device'],
  imageId: r.image_id,
  state: r.state as AttachmentRecord['state'],
  slotUri: r.slot_uri,
  tokenHash: r.token_hash,
  passwordHash: r.password_hash,
  expiresAt: r.expires_at === null ? null : Number(r.expires_at),
  bytesServed: Number(r.bytes_served),
  windowStart: r.window_start === null ? null : Number(r.window_start),
  windowEnd: r.window_end === null ? null : Number(r.window_end),
  boot: r.boot as AttachmentRecord['boot'],
  generatedNonce: r.generated_nonce,
  error: r.error,
  errorCount: r.error_count,
  createdAt: r.created_at,
  createdBy: r.created_by,
  updatedAt: r.updated_at,
});

export const toBmc = (r: BmcRow): BmcRecord => ({
  name: r.name,
  redfishUrl: r.redfish_url,
  username: r.username,
  password: r.password,
  caPem: r.ca_pem,
  createdAt: r.created_at,
  createdBy: r.created_by,
});

export const UPDATE_COLUMNS: Record<Exclude<keyof AttachmentUpdate, 'failed'>, string> = {
  state: 'state',
  slotUri: 'slot_uri',
  tokenHash: 'token_hash',
  passwordHash: 'password_hash',
  expiresAt: 'expires_at',
  boot: 'boot',
  error: 'error',
};

/** An image's metadata (shared storage: every gateway on the database sees the same images). */
export interface ImageRow {
  id: string;
  name: string;
  /** BIGINT, like expires_at. */
  size: number | string;
  sha256: string;
  media_type: string;
  created_at: string;
  created_by: string;
  /** JSON: the list of grants. */
  grants: string;
  /** JSON: the ImageSource, for an image registered from a source. */
  source: string | null;
  state: string | null;
  error: string | null;
  stored: string | null;
}

export const IMAGE_COLUMNS = [
  'id',
  'name',
  'size',
  'sha256',
  'media_type',
  'created_at',
  'created_by',
  'grants',
  'source',
  'state',
  'error',
  'stored',
] as const;

export const toImage = (r: ImageRow): ImageMetadata => ({
  id: r.id,
  name: r.name,
  size: Number(r.size),
  sha256: r.sha256,
  mediaType: r.media_type,
  created: r.created_at,
  createdBy: r.created_by,
  grants: JSON.parse(r.grants) as string[],
  ...(r.source !== null ? { source: JSON.parse(r.source) as ImageMetadata['source'] } : {}),
  ...(r.state !== null ? { state: r.state as ImageMetadata['state'] } : {}),
  ...(r.error !== null ? { error: r.error } : {}),
  ...(r.stored !== null ? { stored: r.stored } : {}),
});

/** The row's values in IMAGE_COLUMNS' order. */
export const imageValues = (m: ImageMetadata): (string | number | null)[] => [
  m.id,
  m.name,
  m.size,
  m.sha256,
  m.mediaType,
  m.created,
  m.createdBy,
  JSON.stringify(m.grants),
  m.source ? JSON.stringify(m.source) : null,
  m.state ?? null,
  m.error ?? null,
  m.stored ?? null,
];

/** INSERT of an image, or UPDATE of the one with its id (both databases have ON CONFLICT). */
export function upsertImageSql(placeholder: (i: number) => string): string {
  const others = IMAGE_COLUMNS.filter((c) => c !== 'id').map((c) => `${c} = excluded.${c}`);
  return `INSERT INTO images (${IMAGE_COLUMNS.join(', ')}) VALUES (${IMAGE_COLUMNS.map((_c, i) => placeholder(i)).join(', ')})
    ON CONFLICT (id) DO UPDATE SET ${others.join(', ')}`;
}

/** A resumable upload session on the shared storage: its bytes are in the registry's upload. */
export interface UploadSessionRow {
  id: string;
  name: string;
  /** BIGINT: the size the client announced. */
  size: number | string | null;
  created_by: string;
  /** The registry upload's Location as its last answer gave it (it carries the upload's state). */
  location: string;
  upload_offset: number | string;
  created_at: string;
  last_append: string | null;
  expires_at: number | string;
}

export const toUploadSession = (r: UploadSessionRow): SharedUploadSession => ({
  id: r.id,
  name: r.name,
  size: r.size === null ? null : Number(r.size),
  createdBy: r.created_by,
  location: r.location,
  offset: Number(r.upload_offset),
  created: r.created_at,
  lastAppend: r.last_append,
  expiresAt: Number(r.expires_at),
});

/** The statements of the upload_sessions table, with each database's placeholders. */
export function uploadSessionSql(p: (i: number) => string) {
  return {
    insert: `INSERT INTO upload_sessions (id, name, size, created_by, location, upload_offset, created_at, last_append,
      expires_at) VALUES (${[0, 1, 2, 3, 4, 5, 6, 7, 8].map(p).join(', ')})`,
    get: `SELECT * FROM upload_sessions WHERE id = ${p(0)}`,
    countOpen: `SELECT COUNT(*) AS n FROM upload_sessions WHERE created_by = ${p(0)} AND expires_at > ${p(1)}`,
    // conditional on the offset the append started from: of two gateways appending, one wins
    advance: `UPDATE upload_sessions SET upload_offset = ${p(0)}, location = ${p(1)}, last_append = ${p(2)},
      expires_at = ${p(3)} WHERE id = ${p(4)} AND upload_offset = ${p(5)}`,
    remove: `DELETE FROM upload_sessions WHERE id = ${p(0)}`,
    expired: `SELECT * FROM upload_sessions WHERE expires_at <= ${p(0)}`,
  };
}

export const uploadSessionValues = (s: SharedUploadSession): (string | number | null)[] => [
  s.id,
  s.name,
  s.size,
  s.createdBy,
  s.location,
  s.offset,
  s.created,
  s.lastAppend,
  s.expiresAt,
];
