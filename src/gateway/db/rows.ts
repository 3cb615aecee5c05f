// The database's rows as both stores read them, and the columns an update may set.
import type { AttachmentRecord, BmcRecord } from '../types.js';
import type { AttachmentUpdate } from './store.js';

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
