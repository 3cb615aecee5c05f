// The image repository: an upload streams into a temporary file in the local directory while its
// sha256 is computed; only when the digest matches what the client claimed does the storage take
// the file (renamed to `<id>` in the directory, or pushed to a registry: storage/), and then the
// metadata is written (`<id>.json` beside it, or the shared database: image-catalog.ts), so a
// listed image is always whole. Resumable uploads (upload-session.ts) end the same way, through add().
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { badRequest, GatewayError, notFound } from '../errors.js';
import type { RangeContent } from '../http/range.js';
import { LocalStorage, type ImageStorage } from '../storage/image-storage.js';
import { FileCatalog, type ImageCatalog } from './image-catalog.js';

export interface ImageMetadata {
  id: string;
  name: string;
  size: number;
  sha256: string;
  mediaType: string;
  created: string;
  /** The owner: the name of the token that uploaded it. */
  createdBy: string;
  /** Who else may see and attach it: token names, `group:<name>`, or `*` (every token). */
  grants: string[];
  /** Where the bytes come from when they were not uploaded (docs/gateway.md, Sources). */
  source?: ImageSource;
  /** `failed`: the source's bytes did not have their digest; the image is never served. */
  state?: 'failed';
  error?: string;
  /** With shared storage: the artifact its bytes were pushed as, oci://registry/repository@sha256:<manifest>. */
  stored?: string;
}

export interface ImageSource {
  /** The https:// URL or oci:// reference it was registered from. */
  url: string;
  /** A local copy is served; otherwise each read is fetched from the source by Range. */
  cached: boolean;
  /** oci://: the layer blob the reference resolved to (a tag is pinned to it) and its manifest. */
  blobDigest?: string;
  manifestDigest?: string;
}

export interface UploadRequest {
  name: string;
  /** Hex sha256 the client claims; the upload is refused when the bytes do not match. */
  sha256?: string;
  mediaType?: string;
  createdBy: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const ID = /^[0-9a-f-]{36}$/;
const SHA256 = /^[0-9a-f]{64}$/;

export function checkImageName(name: string): void {
  if (!NAME.test(name))
    throw badRequest('name: 1 to 128 characters of letters, digits, ".", "_" and "-", not starting with a dot');
}

export const tooLarge = (limit: number) => new GatewayError(413, 'TooLarge', `the image is larger than ${limit} bytes`);

/**
 * A pipeline step passing the chunks on while it hashes them and adds their bytes to
 * `counted.size`; `check` sees each new size first (and throws to stop the upload).
 */
export function hashing(hash: Hash, counted: { size: number }, check: (size: number) => void) {
  return async function* (chunks: AsyncIterable<Buffer>) {
    for await (const chunk of chunks) {
      counted.size += chunk.length;
      check(counted.size);
      hash.update(chunk);
      yield chunk;
    }
  };
}

/** Throws 422 DigestMismatch when the client claimed another sha256 than the bytes have. */
export function checkDigest(actual: string, claimed: string | undefined): void {
  if (claimed !== undefined && claimed !== actual)
    throw new GatewayError(422, 'DigestMismatch', `the uploaded bytes have sha256 ${actual}, not ${claimed}`);
}

const MEDIA_TYPES: Record<string, string> = {
  '.iso': 'application/x-iso9660-image',
  '.img': 'application/octet-stream',
  '.raw': 'application/octet-stream',
  '.qcow2': 'application/x-qemu-disk',
};

/** The media type an image's name implies (its extension). */
export const mediaTypeOf = (name: string): string =>
  MEDIA_TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';

export interface RepositoryParts {
  /** Default: `<id>.json` files in the directory. */
  catalog?: ImageCatalog;
  /** Default: the directory. */
  storage?: ImageStorage;
}

export class ImageRepository {
  private readonly uploads: string;
  private readonly catalog: ImageCatalog;
  private readonly storage: ImageStorage;

  constructor(
    readonly dir: string,
    private readonly maxBytes: number,
    parts: RepositoryParts = {},
  ) {
    this.uploads = path.join(dir, '.uploads');
    mkdirSync(this.uploads, { recursive: true, mode: 0o700 });
    // uploads a crash interrupted are never resumed: their bytes are not trusted
    for (const f of readdirSync(this.uploads)) rmSync(path.join(this.uploads, f), { force: true });
    this.catalog = parts.catalog ?? new FileCatalog(dir, this.uploads);
    this.storage = parts.storage ?? new LocalStorage(dir);
  }

  async upload(body: Readable, req: UploadRequest): Promise<ImageMetadata> {
    checkImageName(req.name);
    const claimed = req.sha256?.toLowerCase();
    if (claimed !== undefined && !SHA256.test(claimed)) throw badRequest('sha256: 64 hex digits');
    const id = randomUUID();
    const partial = path.join(this.uploads, id);
    const hash = createHash('sha256');
    const counted = { size: 0 };
    const limit = this.maxBytes;
    try {
      await pipeline(
        body,
        hashing(hash, counted, (size) => {
          if (size > limit) throw tooLarge(limit);
        }),
        createWriteStream(partial, { mode: 0o600, flush: true }),
      );
      const sha256 = hash.digest('hex');
      checkDigest(sha256, claimed);
      return await this.add(partial, { ...req, id, size: counted.size, sha256 });
    } catch (err) {
      rmSync(partial, { force: true });
      throw err;
    }
  }

  /**
   * Makes a whole, checked file (on this repository's file system) an image: the storage takes the
   * bytes, then the metadata is written, so the image is listed only once it is complete.
   */
  async add(
    file: string,
    image: { id: string; name: string; size: number; sha256: string; mediaType?: string; createdBy: string },
  ): Promise<ImageMetadata> {
    const meta: ImageMetadata = {
      id: image.id,
      name: image.name,
      size: image.size,
      sha256: image.sha256,
      mediaType: image.mediaType ?? mediaTypeOf(image.name),
      created: new Date().toISOString(),
      createdBy: image.createdBy,
      grants: [],
    };
    const stored = await this.storage.keep(file, meta);
    return this.record(stored === undefined ? meta : { ...meta, stored });
  }

  /** Writes an image's metadata as it is (a source's image, whose bytes may be elsewhere). */
  async record(meta: ImageMetadata): Promise<ImageMetadata> {
    await this.catalog.write(meta);
    return meta;
  }

  /** Replaces who an image is granted to. */
  setGrants(meta: ImageMetadata, grants: string[]): Promise<ImageMetadata> {
    return this.record({ ...meta, grants });
  }

  /** Reads the shared metadata again: list() and get() then see other gateways' changes. */
  refresh(): Promise<void> {
    return this.catalog.refresh();
  }

  list(): ImageMetadata[] {
    return this.catalog.list().sort((a, b) => a.created.localeCompare(b.created));
  }

  /**
   * An image by its id, or by its name when exactly one image has that name; only among the images
   * `visible` lets through (the others do not exist for the caller).
   */
  get(idOrName: string, visible: (m: ImageMetadata) => boolean = () => true): ImageMetadata {
    const byId = ID.test(idOrName) ? this.catalog.read(idOrName) : undefined;
    if (byId && visible(byId)) return byId;
    const named = this.list().filter((m) => m.name === idOrName && visible(m));
    if (named.length === 1) return named[0]!;
    if (named.length > 1) throw badRequest(`${named.length} images are named "${idOrName}": use the id`);
    throw notFound(`image ${idOrName}`);
  }

  /** The image with this id as the shared metadata has it now (another gateway may have deleted it). */
  async fresh(id: string): Promise<ImageMetadata> {
    const meta = await this.catalog.fresh(id);
    if (!meta) throw notFound(`image ${id}`);
    return meta;
  }

  /** An image's bytes, by Range. */
  content(meta: ImageMetadata): RangeContent {
    return this.storage.content(meta);
  }

  /** Removes the bytes first: when the storage refuses, the image stays listed. */
  async delete(meta: ImageMetadata): Promise<void> {
    await this.storage.remove(meta);
    await this.catalog.remove(meta.id);
  }
}
