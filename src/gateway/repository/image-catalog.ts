// Where the repository keeps its images' metadata. Local storage: a `<id>.json` file beside each
// image (read at each call: the directory is the truth). Shared storage (`--storage oci://`): the
// database's images table, which every gateway on one PostgreSQL reads; the repository's
// synchronous reads see a copy that refresh() reads again, which the API does before each
// authenticated request (api/app.ts) and the media server does for the image it serves (fresh()).
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { GatewayStore } from '../db/store.js';
import type { ImageMetadata } from './image-repository.js';

export interface ImageCatalog {
  /** Reads the shared metadata again (other gateways' uploads, grants and deletes). */
  refresh(): Promise<void>;
  list(): ImageMetadata[];
  read(id: string): ImageMetadata | undefined;
  /** The image as the shared metadata has it now (undefined when it was deleted). */
  fresh(id: string): Promise<ImageMetadata | undefined>;
  write(meta: ImageMetadata): Promise<void>;
  remove(id: string): Promise<void>;
}

export class FileCatalog implements ImageCatalog {
  constructor(
    private readonly dir: string,
    /** Where a file is written before it is renamed into place (same file system). */
    private readonly tmpDir: string,
  ) {}

  refresh(): Promise<void> {
    return Promise.resolve();
  }

  list(): ImageMetadata[] {
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => this.read(f.slice(0, -5)))
      .filter((m): m is ImageMetadata => m !== undefined)
      .sort((a, b) => a.created.localeCompare(b.created));
  }

  read(id: string): ImageMetadata | undefined {
    try {
      const meta = JSON.parse(readFileSync(this.metaPath(id), 'utf8')) as ImageMetadata;
      // images stored before grants existed are their owner's alone
      return { ...meta, grants: meta.grants ?? [] };
    } catch {
      return undefined;
    }
  }

  fresh(id: string): Promise<ImageMetadata | undefined> {
    return Promise.resolve(this.read(id));
  }

  write(meta: ImageMetadata): Promise<void> {
    const tmp = path.join(this.tmpDir, `${meta.id}.json`);
    writeFileSync(tmp, JSON.stringify(meta), { mode: 0o600 });
    renameSync(tmp, this.metaPath(meta.id));
    return Promise.resolve();
  }

  remove(id: string): Promise<void> {
    rmSync(this.metaPath(id), { force: true });
    return Promise.resolve();
  }

  private metaPath(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }
}

export class DatabaseCatalog implements ImageCatalog {
  private images = new Map<string, ImageMetadata>();
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly store: GatewayStore) {}

  /**
   * One read of the table at a time, however many requests ask (each request asks: compose.ts).
   * A read under way may have started before another gateway's write that this request follows:
   * the request waits for the next read, which everyone asking meanwhile shares.
   */
  refresh(): Promise<void> {
    if (!this.running) return this.load();
    this.queued ??= this.running.then(
      () => this.next(),
      () => this.next(),
    );
    return this.queued;
  }

  private next(): Promise<void> {
    this.queued = undefined;
    return this.load();
  }

  private load(): Promise<void> {
    this.running = this.store
      .listImages()
      .then((images) => {
        this.images = new Map(images.map((m) => [m.id, m]));
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  list(): ImageMetadata[] {
    return [...this.images.values()];
  }

  read(id: string): ImageMetadata | undefined {
    return this.images.get(id);
  }

  async fresh(id: string): Promise<ImageMetadata | undefined> {
    const meta = await this.store.getImage(id);
    if (meta) this.images.set(id, meta);
    else this.images.delete(id);
    return meta;
  }

  async write(meta: ImageMetadata): Promise<void> {
    await this.store.putImage(meta);
    this.images.set(meta.id, meta);
  }

  async remove(id: string): Promise<void> {
    await this.store.deleteImage(id);
    this.images.delete(id);
  }
}
