// What the API shows of stored records: no password, no token or password hash.
import type { AttachmentRecord, BmcRecord } from '../types.js';

export const bmcView = (b: BmcRecord) => ({
  name: b.name,
  redfishUrl: b.redfishUrl,
  username: b.username,
  createdAt: b.createdAt,
  createdBy: b.createdBy,
});

export const attachmentView = (a: AttachmentRecord) => ({
  id: a.id,
  bmc: a.bmc,
  device: a.device,
  imageId: a.imageId,
  state: a.state,
  slotUri: a.slotUri,
  linkExpiresAt: a.expiresAt === null ? null : new Date(a.expiresAt).toISOString(),
  bytesServed: a.bytesServed,
  window:
    a.windowStart === null || a.windowEnd === null
      ? null
      : { start: new Date(a.windowStart).toISOString(), end: new Date(a.windowEnd).toISOString() },
  boot: a.boot,
  // the nonce only: the document and its secrets are in the image alone
  generated: a.generatedNonce === null ? null : { nonce: a.generatedNonce },
  error: a.error,
  errorCount: a.errorCount,
  createdAt: a.createdAt,
  createdBy: a.createdBy,
  updatedAt: a.updatedAt,
});
