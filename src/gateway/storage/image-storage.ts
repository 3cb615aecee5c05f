// Where the repository keeps its images' bytes: a local directory (the default), or an OCI registry
// shared by several gateways (oci-storage.ts). An image arrives as a whole file whose sha256 was
// checked; the storage takes it (renamed into place, or pushed and then removed).
import { renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileContent, type RangeContent } from '../http/range.js';
import type { ImageMetadata } from '../repository/image-repository.js';

export interface ImageStorage {
  /**
   * Takes `file` (whole, checked, on the repository's file system) as the bytes of `meta`; resolves
   * to where they are when that is not the local directory (ImageMetadata.stored).
   */
  keep(file: string, meta: ImageMetadata): Promise<string | undefined>;
  content(meta: ImageMetadata): RangeContent;
  remove(meta: ImageMetadata): Promise<void>;
}

/** `<dir>/<id>` holds an image's bytes. */
export class LocalStorage implements ImageStorage {
  constructor(private readonly dir: string) {}

  keep(file: string, meta: ImageMetadata): Promise<undefined> {
    renameSync(file, this.dataPath(meta.id));
    return Promise.resolve(undefined);
  }

  content(meta: ImageMetadata): RangeContent {
    return fileContent({ path: this.dataPath(meta.id), size: meta.size, mediaType: meta.mediaType, etag: meta.sha256 });
  }

  remove(meta: ImageMetadata): Promise<void> {
    rmSync(this.dataPath(meta.id), { force: true });
    return Promise.resolve();
  }

  private dataPath(id: string): string {
    return path.join(this.dir, id);
  }
}
