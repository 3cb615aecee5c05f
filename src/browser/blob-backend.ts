// A read-only NBD export over a Blob (a File the user picked). The file is never held in memory
// as a whole: reads are served from a few recently read aligned windows (2 MiB), so sequential
// reads (a boot, a copy) cost one Blob read per window.
// How a window is read decides Chromium's CPU per byte (docs/performance.md, path D):
// `slice().arrayBuffer()` registers a new Blob with the browser process and fills a fresh
// ArrayBuffer each time, 15–30 CPU-s/GiB across the browser and the renderer for 2 MiB windows;
// a byte stream of the file read with a BYOB reader costs about 2. So windows are filled from
// streams ("cursors"): a cursor stays open at the end of the window it read, and the next window
// of a sequential reader continues it (nbdcopy's 4 connections are 4 such readers); the window
// after a sequential one is read ahead while the current one is served. Blobs without a byte
// stream (older browsers) are read with slice().arrayBuffer().
import type { BlockBackend } from '../nbd/backend.js';

/** What a slice of the Blob offers; a browser File's and Node's fs.openAsBlob()'s both fit. */
export interface BlobSlice {
  arrayBuffer(): Promise<ArrayBuffer>;
  /** A byte stream (readable with a BYOB reader) in current browsers and Node. */
  stream?(): ReadableStream<Uint8Array>;
}

/** The part of Blob we use. */
export interface BlobLike {
  readonly size: number;
  slice(start: number, end: number): BlobSlice;
}

export interface BlobBackendOptions {
  /** Bytes read from the Blob at once for small reads. Default 2 MiB. */
  windowBytes?: number;
  /** Windows kept (least recently used dropped). Default 16: 4 sequential readers, each with its window and the next. */
  windows?: number;
}

/** A BYOB reader of the Blob's bytes from `position` on. */
interface Cursor {
  position: number;
  reader: ReadableStreamBYOBReader;
}

export function blobBackend(blob: BlobLike, opts: BlobBackendOptions = {}): BlockBackend {
  const windowBytes = opts.windowBytes ?? 2 * 1024 * 1024;
  const maxWindows = opts.windows ?? 16;
  // window index → its bytes (a pending read is shared by the requests that need it)
  const cache = new Map<number, Promise<Uint8Array>>();
  // cursors between windows, by the position they are at (Map order: the oldest first)
  const idle = new Map<number, Cursor>();
  let streams = true; // false once the Blob turned out to have no byte stream

  async function slice(start: number, end: number): Promise<Uint8Array> {
    return new Uint8Array(await blob.slice(start, end).arrayBuffer());
  }

  function openCursor(position: number): Cursor | undefined {
    const stream = blob.slice(position, blob.size).stream?.();
    if (!stream) return undefined;
    try {
      return { position, reader: stream.getReader({ mode: 'byob' }) };
    } catch {
      return undefined; // not a byte stream: TypeError
    }
  }

  function drop(cursor: Cursor): void {
    cursor.reader.cancel().catch(() => undefined); // it may have failed already
  }

  /** Keeps a cursor that stopped at the end of a window for the window that follows. */
  function park(cursor: Cursor): void {
    if (cursor.position >= blob.size) return drop(cursor);
    const other = idle.get(cursor.position);
    if (other) drop(other);
    idle.delete(cursor.position);
    idle.set(cursor.position, cursor);
    while (idle.size > maxWindows) {
      const [position, oldest] = idle.entries().next().value!;
      idle.delete(position);
      drop(oldest);
    }
  }

  /** Reads `length` bytes at the cursor into one new buffer. */
  async function fill(cursor: Cursor, length: number): Promise<Uint8Array> {
    let buffer = new ArrayBuffer(length);
    let filled = 0;
    while (filled < length) {
      const { value, done } = await cursor.reader.read(new Uint8Array(buffer, filled, length - filled));
      if (done || !value) throw new Error(`the file ended at byte ${cursor.position} of ${blob.size}`);
      buffer = value.buffer; // the read transferred the buffer: this is it, filled further
      filled += value.byteLength;
      cursor.position += value.byteLength;
    }
    return new Uint8Array(buffer);
  }

  /** `length` bytes at `start`, from a cursor left there by the read before if there is one. */
  async function readAt(start: number, length: number): Promise<Uint8Array> {
    let cursor = streams ? idle.get(start) : undefined;
    if (cursor) idle.delete(start);
    else if (streams) cursor = openCursor(start);
    if (!cursor) {
      streams = false;
      return slice(start, start + length);
    }
    try {
      const bytes = await fill(cursor, length);
      park(cursor);
      return bytes;
    } catch (err) {
      drop(cursor);
      throw err;
    }
  }

  function load(index: number): Promise<Uint8Array> {
    const start = index * windowBytes;
    return readAt(start, Math.min(windowBytes, blob.size - start));
  }

  function remember(index: number, bytes: Promise<Uint8Array>): void {
    cache.set(index, bytes);
    while (cache.size > maxWindows) cache.delete(cache.keys().next().value!);
  }

  function window(index: number): Promise<Uint8Array> {
    let bytes = cache.get(index);
    if (bytes) {
      cache.delete(index); // re-insert: Map order is the LRU order
    } else {
      bytes = load(index);
      bytes.catch(() => cache.delete(index)); // a failed read is retried next time
    }
    remember(index, bytes);
    // a sequential reader: read its next window while this one is served
    const next = index + 1;
    if (cache.has(index - 1) && next * windowBytes < blob.size) {
      bytes.then(
        () => {
          if (!cache.has(next)) {
            const ahead = load(next);
            ahead.catch(() => cache.delete(next));
            remember(next, ahead);
          }
        },
        () => undefined,
      );
    }
    return bytes;
  }

  return {
    size: blob.size,
    readOnly: true,
    async read(offset: number, length: number): Promise<Uint8Array> {
      if (length >= windowBytes) return readAt(offset, length); // as large as a window: not cached
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
