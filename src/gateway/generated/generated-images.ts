// Generated media in the gateway: a first-boot document (docs/generated-media.md, the generator of
// src/generated-media: the same schema, the same bytes) built into an ISO 9660 (CD) or FAT (USB)
// image with a fresh nonce, kept in a repository of its own so that no image route of the API can
// list or download it (it holds the document's secrets), and served by the media server like any
// image. The database keeps only the nonce. An image is removed once its attachment has ended.
import { Readable } from 'node:stream';
import { buildGeneratedMedia, GeneratedMediaError, newMediaNonce } from '../../generated-media/index.js';
import type { GatewayStore } from '../db/store.js';
import { badRequest } from '../errors.js';
import type { ImageMetadata, ImageRepository } from '../repository/image-repository.js';
import { LIVE_STATES, type AttachmentState, type DeviceType } from '../types.js';

/** The generator's daemon-side keys: the gateway sees no host reads, and a window sets the end. */
const DAEMON_ONLY_KEYS = ['eject_after', 'eject_when_read'];

/** An image built but not yet in an attachment row is kept this long (the row is written right after). */
const UNCLAIMED_GRACE_MS = 60_000;

const HOLDING: readonly AttachmentState[] = ['scheduled', ...LIVE_STATES];

export class GeneratedImages {
  constructor(readonly repository: ImageRepository) {}

  /** Builds the document's image for `device`; a bad document is a 400 naming the property. */
  async build(document: unknown, device: DeviceType, who: string): Promise<{ image: ImageMetadata; nonce: string }> {
    const daemonOnly =
      typeof document === 'object' && document !== null ? DAEMON_ONLY_KEYS.filter((k) => k in document) : [];
    if (daemonOnly.length > 0)
      throw badRequest(`generated: ${daemonOnly.join(', ')} is not taken by the gateway: give a window instead`);
    const nonce = newMediaNonce();
    let media;
    try {
      media = buildGeneratedMedia(document, { nonce, target: device });
    } catch (err) {
      if (err instanceof GeneratedMediaError) throw badRequest(`generated${err.path === '' ? ': ' : ''}${err.message}`);
      throw err;
    }
    const image = await this.repository.upload(Readable.from([media.image]), {
      name: `generated-${nonce}.${device === 'cd' ? 'iso' : 'img'}`,
      sha256: media.sha256,
      createdBy: who,
    });
    return { image, nonce };
  }

  /** Removes the images whose attachments have ended (or that no attachment took up). */
  async prune(store: GatewayStore): Promise<void> {
    for (const image of this.repository.list()) {
      const rows = await store.listAttachments({ imageId: image.id });
      if (rows.some((r) => HOLDING.includes(r.state))) continue;
      if (rows.length === 0 && Date.now() - Date.parse(image.created) < UNCLAIMED_GRACE_MS) continue;
      await this.repository.delete(image);
    }
  }
}
