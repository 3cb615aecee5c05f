// The gateway's vocabulary, shared by its parts: devices, roles, attachment states and records.

/** The device an image is attached as: a CD/DVD drive or a USB stick (or floppy). */
export type DeviceType = 'cd' | 'usb';
export const DEVICE_TYPES: readonly DeviceType[] = ['cd', 'usb'];

/** API roles, each allowed what the ones before it are: read, then attach/upload, then administer. */
export type Role = 'reader' | 'operator' | 'admin';
export const ROLES: readonly Role[] = ['reader', 'operator', 'admin'];

/**
 * [scheduled →] attaching → attached → detaching → detached, or failed from any live state. A live
 * state (attaching, attached, detaching) holds the BMC's device: at most one live attachment per
 * BMC and device. `scheduled` waits for its window's start and holds nothing yet. After a restart
 * the database is the truth: attaching and detaching resume, windows fire.
 */
export type AttachmentState = 'scheduled' | 'attaching' | 'attached' | 'detaching' | 'detached' | 'failed';
export const ATTACHMENT_STATES: readonly AttachmentState[] = [
  'scheduled',
  'attaching',
  'attached',
  'detaching',
  'detached',
  'failed',
];
export const LIVE_STATES: readonly AttachmentState[] = ['attaching', 'attached', 'detaching'];

export type BootStatus = 'requested' | 'done' | 'failed';

export interface BmcRecord {
  name: string;
  /** https://host[:port] of the BMC's Redfish service. */
  redfishUrl: string;
  username: string;
  password: string;
  /** PEM of the CA (or the self-signed certificate) the BMC's certificate must chain to. */
  caPem: string;
  createdAt: string;
  createdBy: string;
}

export interface AttachmentRecord {
  id: string;
  bmc: string;
  device: DeviceType;
  imageId: string;
  state: AttachmentState;
  /** The BMC's VirtualMedia member the image is in (set once inserted). */
  slotUri: string | null;
  /** sha256 of the media URL's token and of the BMC's password for it: the gateway keeps no copy. */
  tokenHash: string | null;
  passwordHash: string | null;
  /** When the media URL stops working unless renewed (ms since the epoch). */
  expiresAt: number | null;
  bytesServed: number;
  /** The window (ms since the epoch) when the attachment was asked for one: made at the start, removed at the end. */
  windowStart: number | null;
  windowEnd: number | null;
  /** Boot override + reset after the insert: requested, then done or failed (null: not asked for). */
  boot: BootStatus | null;
  /** For generated media: the nonce the image was built with (the image holds the document's secrets, the database never). */
  generatedNonce: string | null;
  error: string | null;
  errorCount: number;
  createdAt: string;
  createdBy: string;
  updatedAt: string;
}

export interface AuditEntry {
  seq: number;
  at: string;
  who: string;
  action: string;
  target: string;
  detail: string;
}
