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
  error: a.error,
  errorCount: a.errorCount,
  createdAt: a.createdAt,
  createdBy: a.createdBy,
  updatedAt: a.updatedAt,
});
