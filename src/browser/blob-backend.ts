// A read-only NBD export over a Blob (a File the user picked). Each read slices just a range,
// so the file is never held in memory as a whole. In Chromium every Blob read costs a few ms of
// IPC whatever its size (256 KiB reads: ~50 MiB/s, 2 MiB reads: ~200 MiB/s), so small reads are
// served from a few recently read aligned windows: sequential reads (boot, copy) hit the cache.
import type { BlockBackend } from '../nbd/backend.js';

/** The part of Blob we use; a browser File and Node's fs.openAsBlob() both fit. */
export interface BlobLike {
  readonly size: number;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

export interface BlobBackendOptions {
  /** Bytes read from the Blob at once for small reads. Default 2 MiB. */
  windowBytes?: number;
  /** Windows kept (least recently used dropped). Default 8. */
  windows?: number;
}

export function blobBackend(blob: BlobLike, opts: BlobBackendOptions = {}): BlockBackend {
  const windowBytes = opts.windowBytes ?? 2 * 1024 * 1024;
  const maxWindows = opts.windows ?? 8;
  // window index → its bytes (a pending read is shared by the requests that need it)
  const cache = new Map<number, Promise<Uint8Array>>();

  async function slice(start: number, end: number): Promise<Uint8Array> {
    return new Uint8Array(await blob.slice(start, end).arrayBuffer());
  }

  function window(index: number): Promise<Uint8Array> {
    let bytes = cache.get(index);
    if (bytes) {
      cache.delete(index); // re-insert: Map order is the LRU order
    } else {
      const start = index * windowBytes;
      bytes = slice(start, Math.min(start + windowBytes, blob.size));
      bytes.catch(() => cache.delete(index)); // a failed read is retried next time
    }
    cache.set(index, bytes);
    while (cache.size > maxWindows) cache.delete(cache.keys().next().value!);
    return bytes;
  }

  return {
    size: blob.size,
    readOnly: true,
    async read(offset: number, length: number): Promise<Uint8Array> {
      if (length >= windowBytes) return slice(offset, offset + length); // big reads are cheap already
      const first = Math.floor(offset / windowBytes);
      const last = Math.floor((offset + length - 1) / windowBytes);
      if (first === last) {
        const within = offset - first * windowBytes;
        return (await window(first)).subarray(within, within + length); // the server copies it into its reply
      }
      const [a, b] = await Promise.all([window(first), window(last)]);
      const out = new Uint8Array(length);
      const within = offset - first * windowBytes;
      out.set(a.subarray(within));
      out.set(b.subarray(0, length - (a.length - within)), a.length - within);
      return out;
    },
  };
}
