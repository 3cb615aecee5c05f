// Images whose bytes come from a source, as the API, Ironic's routes and the media server use
// them: registering one (import.ts), finding one already registered from the same source, and
// what to serve for any image: its file in the repository (uploads and cached sources), or its
// source read by Range on each request (sources streamed through). An image whose bytes failed
// their digest is never served.
import { GatewayError } from '../errors.js';
import type { RangeContent } from '../http/range.js';
import type { ImageMetadata, ImageRepository, ImageSource } from '../repository/image-repository.js';
import type { ImageSources } from './image-sources.js';
import { importFromSource, type ImportRequest } from './import.js';
import { refreshFromSource, type RefreshResult } from './refresh.js';

export class SourceImages {
  constructor(
    private readonly repository: ImageRepository,
    private readonly sources: ImageSources,
  ) {}

  register(req: ImportRequest): Promise<ImageMetadata> {
    return importFromSource(this.repository, this.sources, req);
  }

  /**
   * The image registered from this source (kept the same way) that `visible` lets through, else a
   * new one. A tag is resolved when its image is first registered; POST /api/images/{id}/refresh
   * follows a tag that moved.
   */
  async registered(req: ImportRequest, visible: (m: ImageMetadata) => boolean): Promise<ImageMetadata> {
    const same = this.repository
      .list()
      .find(
        (m) => m.state !== 'failed' && m.source?.url === req.source && m.source.cached === req.cached && visible(m),
      );
    return same ?? (await this.register(req));
  }

  /** Re-resolves the oci:// tag the image was registered from (refresh.ts); `stillFree` throws while it is attached. */
  refresh(meta: ImageMetadata, stillFree: () => Promise<void>): Promise<RefreshResult> {
    return refreshFromSource(this.repository, this.sources, meta, stillFree);
  }

  /** Where an image came from, when it was registered from a source. */
  sourceOf(imageId: string): ImageSource | undefined {
    try {
      return this.repository.get(imageId).source;
    } catch {
      return undefined; // deleted since, or not a repository image (generated media)
    }
  }

  content(meta: ImageMetadata): RangeContent {
    if (meta.state === 'failed')
      throw new GatewayError(409, 'ImageFailed', `image ${meta.id} is failed and never served: ${meta.error ?? ''}`);
    const source = meta.source;
    if (!source || source.cached) return this.repository.content(meta);
    return {
      size: meta.size,
      mediaType: meta.mediaType,
      etag: meta.sha256,
      open: (start, end) => this.sources.open(source, meta.size, start, end),
    };
  }
}
