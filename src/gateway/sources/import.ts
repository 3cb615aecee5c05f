// Registering an image from a source: the source is probed (an oci:// tag resolved and pinned to
// its blob digest), then its bytes are streamed once, through sha256: into a local copy when the
// image is cached, or nowhere when it is streamed through on each read. Bytes that do not have the
// digest the source promised (or the caller claimed) leave the image `failed`, with the reason,
// and never served. A blob digest verified once is not streamed again for another image.
import { createHash, randomUUID } from 'node:crypto';
import path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { badRequest, GatewayError } from '../errors.js';
import { checkImageName, type ImageMetadata, type ImageRepository } from '../repository/image-repository.js';
import { sameBlob, type ImageSources, type ProbedSource } from './image-sources.js';
import { sourceError } from './outbound.js';
import { displaySource } from './source-url.js';

export interface ImportRequest {
  source: string;
  /** Default: the source's file name (an ORAS title annotation, the URL's last path segment). */
  name?: string;
  /** Hex sha256 the caller expects the bytes to have. */
  sha256?: string;
  /** Keep a local copy (Ironic's image_download_source "local") instead of reading the source on each read. */
  cached: boolean;
  createdBy: string;
}

export async function importFromSource(
  repository: ImageRepository,
  sources: ImageSources,
  req: ImportRequest,
): Promise<ImageMetadata> {
  const claimed = req.sha256?.toLowerCase();
  if (claimed !== undefined && !/^[0-9a-f]{64}$/.test(claimed)) throw badRequest('sha256: 64 hex digits');
  const probed = await sources.probe(req.source, req.cached);
  if (probed.size === 0) throw sourceError(`${displaySource(req.source)}: the source is empty`);
  const name = req.name ?? safeName(probed.suggestedName);
  checkImageName(name);
  if (claimed !== undefined && probed.sha256 !== undefined && claimed !== probed.sha256)
    throw badRequest(`sha256: the source names digest sha256:${probed.sha256}, not ${claimed}`);
  const expected = probed.sha256 ?? claimed;
  const base = { name, mediaType: probed.mediaType, createdBy: req.createdBy };
  const body = () => sources.open(probed.source, probed.size, 0, probed.size - 1);

  if (req.cached) {
    try {
      const meta = await repository.upload(await body(), { ...base, ...(expected ? { sha256: expected } : {}) });
      return repository.record({ ...meta, source: probed.source });
    } catch (err) {
      if (err instanceof GatewayError && err.code === 'DigestMismatch')
        await recordFailed(repository, probed, base, err);
      throw readFailure(err);
    }
  }
  const verified = repository.list().some((m) => m.state !== 'failed' && m.source && sameBlob(m.source, probed.source));
  const sha256 =
    verified && expected
      ? expected
      : await streamedSha256(await body(), probed.size).catch((err: unknown) => {
          throw readFailure(err);
        });
  const meta: ImageMetadata = {
    id: randomUUID(),
    ...base,
    size: probed.size,
    sha256,
    created: new Date().toISOString(),
    grants: [],
    source: probed.source,
  };
  if (expected !== undefined && sha256 !== expected) {
    const err = new GatewayError(
      422,
      'DigestMismatch',
      `${displaySource(req.source)}: the bytes have sha256 ${sha256}, not ${expected}: the image is failed and never served`,
    );
    await recordFailed(repository, probed, base, err);
    throw err;
  }
  return repository.record(meta);
}

async function recordFailed(
  repository: ImageRepository,
  probed: ProbedSource,
  base: { name: string; mediaType: string; createdBy: string },
  err: Error,
): Promise<void> {
  await repository.record({
    id: randomUUID(),
    ...base,
    size: probed.size,
    sha256: probed.sha256 ?? '',
    created: new Date().toISOString(),
    grants: [],
    source: probed.source,
    state: 'failed',
    error: err.message,
  });
}

/** The sha256 of a source's bytes read whole (they must be `size` bytes). */
export async function streamedSha256(body: Readable, size: number): Promise<string> {
  const hash = createHash('sha256');
  let seen = 0;
  await pipeline(
    body,
    new Writable({
      write(chunk: Buffer, _enc, done) {
        seen += chunk.length;
        hash.update(chunk);
        done();
      },
    }),
  );
  if (seen !== size) throw new GatewayError(502, 'SourceFailed', `the source sent ${seen} bytes of ${size}`);
  return hash.digest('hex');
}

/** A connection the source dropped while its bytes were read is the source's failure (502). */
export function readFailure(err: unknown): unknown {
  return err instanceof GatewayError
    ? err
    : sourceError(`the source failed while being read: ${(err as Error).message}`);
}

/** A source's file name made into an image name (the repository's grammar). */
function safeName(suggested: string): string {
  const cleaned = path.posix
    .basename(suggested)
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^[._-]+/, '');
  return cleaned.slice(0, 128) || 'image';
}
