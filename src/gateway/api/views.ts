// What the API shows of stored records: no password, no token or password hash, and an attachment's
// image only to whom may see it.
import type { ImageRepository } from '../repository/image-repository.js';
import type { AttachmentRecord, BmcRecord } from '../types.js';
import { maySee } from './acl.js';
import type { Caller } from './auth.js';

export const bmcView = (b: BmcRecord) => ({
  name: b.name,
  redfishUrl: b.redfishUrl,
  username: b.username,
  createdAt: b.createdAt,
  createdBy: b.createdBy,
});

/**
 * Whether the caller may see which image an attachment holds (its id; on Ironic's route its URL).
 * Every reader sees the attachment itself: that a BMC's device is in use is no secret (an attach to
 * it answers 409), but the image is shown only to whom may see it. Generated media and images
 * deleted since: their requester's and admins'.
 */
export function maySeeAttachedImage(who: Caller, a: AttachmentRecord, repository: ImageRepository): boolean {
  if (who.role === 'admin') return true;
  if (a.generatedNonce !== null) return a.createdBy === who.name;
  try {
    return maySee(who, repository.get(a.imageId));
  } catch {
    return a.createdBy === who.name;
  }
}

export const windowView = (a: AttachmentRecord) =>
  a.windowStart === null || a.windowEnd === null
    ? null
    : { start: new Date(a.windowStart).toISOString(), end: new Date(a.windowEnd).toISOString() };

/** `imageVisible`: false hides the image's id from a caller who may not see the image (acl.ts). */
export const attachmentView = (a: AttachmentRecord, imageVisible: boolean) => ({
  id: a.id,
  bmc: a.bmc,
  device: a.device,
  imageId: imageVisible ? a.imageId : null,
  state: a.state,
  slotUri: a.slotUri,
  linkExpiresAt: a.expiresAt === null ? null : new Date(a.expiresAt).toISOString(),
  bytesServed: a.bytesServed,
  window: windowView(a),
  boot: a.boot,
  // the nonce only: the document and its secrets are in the image alone
  generated: a.generatedNonce === null ? null : { nonce: a.generatedNonce },
  error: a.error,
  errorCount: a.errorCount,
  createdAt: a.createdAt,
  createdBy: a.createdBy,
  updatedAt: a.updatedAt,
});
