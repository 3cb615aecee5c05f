// Shared image storage on an OCI registry (`vmedia gateway --storage oci://registry/repository`):
// each upload is pushed as an OCI artifact (docs/gateway.md, Shared storage) tagged with the
// image's id, its metadata goes to the database, and every gateway on that database serves it
// from the registry by Range, by the blob's digest (the image's sha256), never copying it whole.
// Deleting an image deletes its manifest; the registry's garbage collection frees the blob.
import { createReadStream, rmSync } from 'node:fs';
import { GatewayError } from '../errors.js';
import type { RangeContent } from '../http/range.js';
import type { ImageMetadata } from '../repository/image-repository.js';
import type { ImageSources } from '../sources/image-sources.js';
import type { OciRepository, PushedImage } from '../sources/oci-registry.js';
import { OCI_REPOSITORY, SHA256_DIGEST } from '../sources/source-url.js';
import type { ImageStorage } from './image-storage.js';

/** The registry and repository of `--storage oci://registry[:port]/repository`. */
export function parseStorageUrl(text: string): OciRepository {
  const m = /^oci:\/\/([^/@]+)\/([^:@]+)$/.exec(text);
  if (!m || !OCI_REPOSITORY.test(m[2]!))
    throw new Error(`--storage: "${text}" is not oci://registry[:port]/repository (lower-case path, no tag)`);
  try {
    new URL(`https://${m[1]!}/`);
  } catch {
    throw new Error(`--storage: "${m[1]!}" is not a registry host`);
  }
  return { registry: m[1]!, repository: m[2]! };
}

export class OciStorage implements ImageStorage {
  constructor(
    private readonly repo: OciRepository,
    private readonly sources: ImageSources,
  ) {}

  async keep(file: string, meta: ImageMetadata): Promise<string> {
    const manifest = await this.sources.registry
      .push(this.repo, pushedImageOf(meta), () => createReadStream(file, { highWaterMark: 256 * 1024 }))
      .catch(storageFailure);
    rmSync(file, { force: true });
    return this.storedAt(manifest);
  }

  /**
   * Makes the blob of `meta` (whose chunked upload completed: shared-upload-sessions.ts) an
   * artifact, as keep() does a file: resolves to where it is stored.
   */
  async keepUploaded(meta: ImageMetadata): Promise<string> {
    return this.storedAt(
      await this.sources.registry.pushManifest(this.repo, pushedImageOf(meta)).catch(storageFailure),
    );
  }

  content(meta: ImageMetadata): RangeContent {
    const source = { url: this.artifactOf(meta).url, cached: false, blobDigest: `sha256:${meta.sha256}` };
    return {
      size: meta.size,
      mediaType: meta.mediaType,
      etag: meta.sha256,
      open: (start, end) => this.sources.open(source, meta.size, start, end).catch(storageFailure),
    };
  }

  async remove(meta: ImageMetadata): Promise<void> {
    // a source's image streamed through (or whose import failed) has nothing here
    if (meta.stored === undefined) return;
    await this.sources.registry.deleteManifest(this.repo, this.artifactOf(meta).manifest).catch(storageFailure);
  }

  private storedAt(manifest: string): string {
    return `oci://${this.repo.registry}/${this.repo.repository}@${manifest}`;
  }

  /** The artifact an image was pushed as: oci://registry/repository@<manifest digest>. */
  private artifactOf(meta: ImageMetadata): { url: string; manifest: string } {
    const url = meta.stored ?? '';
    const manifest = url.slice(url.lastIndexOf('@') + 1);
    if (!SHA256_DIGEST.test(manifest))
      throw new GatewayError(409, 'NotStored', `image ${meta.id} is not in the shared storage`);
    return { url, manifest };
  }
}

/** How an image is described in the registry: its blob, tagged with its id. */
function pushedImageOf(meta: ImageMetadata): PushedImage {
  return {
    digest: `sha256:${meta.sha256}`,
    size: meta.size,
    mediaType: meta.mediaType,
    title: meta.name,
    tag: meta.id,
    annotations: { 'org.opencontainers.image.created': meta.created, 'io.vmedia.image.id': meta.id },
  };
}

/**
 * The storage is the operator's configuration, not the caller's input: a registry host the sources
 * file does not allow (400 SourceRefused for a source the caller named) is the gateway's failure.
 */
export function storageFailure(err: unknown): never {
  if (err instanceof GatewayError && err.status === 400)
    throw new GatewayError(502, 'SourceFailed', `the shared storage: ${err.message}`, { cause: err });
  throw err;
}
