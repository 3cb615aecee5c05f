// Re-resolving the tag an oci:// image was registered from (POST /api/images/{id}/refresh). The
// image stays what operators and Ironic know it as (its id, name, owner and grants; Ironic finds it
// by its URL) and takes the blob the tag names now, once its bytes have been read through sha256
// as at registration: a streamed image keeps only the new digests, a cached one gets the new copy.
// Bytes that lack their digest leave the image as it was (422). The caller refuses a refresh while
// the image is attached (a BMC reading it must never see its bytes change underneath): `stillFree`
// is asked again right before the image changes, as an attach may have begun while the new bytes
// were read.
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, rmSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { badRequest, GatewayError } from '../errors.js';
import { hashing, type ImageMetadata, type ImageRepository } from '../repository/image-repository.js';
import { sameBlob, type ImageSources, type ProbedSource } from './image-sources.js';
import { readFailure, streamedSha256 } from './import.js';
import { sourceError } from './outbound.js';
import { displaySource, parseSourceUrl, SHA256_DIGEST } from './source-url.js';

export interface RefreshResult {
  image: ImageMetadata;
  /** false: the tag still names the blob the image has (nothing was read or written). */
  changed: boolean;
  /** The blob and manifest the image had before. */
  previous: { blobDigest?: string; manifestDigest?: string; sha256: string };
}

export async function refreshFromSource(
  repository: ImageRepository,
  sources: ImageSources,
  meta: ImageMetadata,
  stillFree: () => Promise<void>,
): Promise<RefreshResult> {
  const source = meta.source;
  const ref = source ? parseSourceUrl(source.url) : undefined;
  if (!source || ref?.kind !== 'oci' || SHA256_DIGEST.test(ref.reference))
    throw badRequest(
      `image ${meta.id} was not registered from an oci:// tag: only a tag moves (register an https:// source again)`,
    );
  const previous = {
    ...(source.blobDigest ? { blobDigest: source.blobDigest } : {}),
    ...(source.manifestDigest ? { manifestDigest: source.manifestDigest } : {}),
    sha256: meta.sha256,
  };
  const probed = await sources.probe(source.url, source.cached);
  if (meta.state !== 'failed' && sameBlob(source, probed.source)) return { image: meta, changed: false, previous };
  if (probed.size === 0) throw sourceError(`${displaySource(source.url)}: the source is empty`);
  // the registry's digest of the layer: the bytes must have it
  const expected = probed.sha256!;
  const mismatch = (actual: string) =>
    new GatewayError(
      422,
      'DigestMismatch',
      `${displaySource(source.url)}: the bytes have sha256 ${actual}, not ${expected}: image ${meta.id} is unchanged`,
    );
  const body = () => sources.open(probed.source, probed.size, 0, probed.size - 1);
  const { state: _state, error: _error, ...kept } = meta;
  const updated = { ...kept, size: probed.size, sha256: expected, mediaType: probed.mediaType, source: probed.source };
  if (source.cached) {
    const stored = await replaceCopy(repository, meta, probed, await body(), mismatch, stillFree);
    return { image: await repository.record({ ...updated, ...(stored ? { stored } : {}) }), changed: true, previous };
  }
  const verified = repository.list().some((m) => m.state !== 'failed' && m.source && sameBlob(m.source, probed.source));
  if (!verified) {
    const sha256 = await streamedSha256(await body(), probed.size).catch((err: unknown) => {
      throw readFailure(err);
    });
    if (sha256 !== expected) throw mismatch(sha256);
  }
  await stillFree();
  return { image: await repository.record(updated), changed: true, previous };
}

/**
 * The new bytes into a file beside the uploads, checked, then taken by the repository's storage
 * under the image's id (a rename over the old copy: a read already open keeps the old bytes).
 * Resolves to where the storage put them when that is not the local directory.
 */
async function replaceCopy(
  repository: ImageRepository,
  meta: ImageMetadata,
  probed: ProbedSource,
  body: Readable,
  mismatch: (actual: string) => Error,
  stillFree: () => Promise<void>,
): Promise<string | undefined> {
  const file = path.join(repository.dir, '.uploads', `refresh-${randomUUID()}`);
  try {
    const hash = createHash('sha256');
    const counted = { size: 0 };
    await pipeline(
      body,
      hashing(hash, counted, () => undefined),
      createWriteStream(file, { mode: 0o600 }),
    ).catch((err: unknown) => {
      throw readFailure(err);
    });
    if (counted.size !== probed.size)
      throw sourceError(`${displaySource(meta.source!.url)}: the source sent ${counted.size} bytes of ${probed.size}`);
    const sha256 = hash.digest('hex');
    if (sha256 !== probed.sha256) throw mismatch(sha256);
    await stillFree();
    const added = await repository.add(file, { ...meta, size: probed.size, sha256, mediaType: probed.mediaType });
    return added.stored;
  } finally {
    rmSync(file, { force: true });
  }
}
