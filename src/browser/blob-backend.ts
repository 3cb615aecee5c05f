// A read-only NBD export over a Blob (a File the user picked). The file is never held in memory
// as a whole: reads are served from a few recently read aligned windows (2 MiB), so sequential
// reads (a boot, a copy) cost one Blob read per window.
// How a window is read decides Chromium's CPU per byte (docs/performance.md, path D):
// `slice().arrayBuffer()` registers a new Blob with the browser process and fills a fresh
// ArrayBuffer each time, 15–30 CPU-s/GiB across the browser and the renderer for 2 MiB windows;
// a byte stream of the file read with a BYOB reader costs about 2. So windows are filled from
// streams ("cursors"): a cursor stays open at the end of the window it read, and the next window
// of a sequential reader continues it (nbdcopy's 4 connections are 4 such readers); the window
// after a sequential one is read ahead while the current one is served. A window's buffer is
// reused for a later window once no read copies out of it (a fresh 2 MiB buffer per window cost
// the renderer more than the stream itself: new memory to fault in). Blobs without a byte stream
// (older browsers) are read with slice().arrayBuffer().
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

/** A BlockBackend whose reads copy into the caller's buffer (the NBD server's reply). */
export type BlobBackend = BlockBackend & { readInto(offset: number, dest: Uint8Array): Promise<void> };

/** Spare window buffers kept for the next windows. */
const MAX_SPARE = 4;
/**
 * Open streams kept between windows: two per sequential reader for 4 readers. Each holds what the
 * browser already read ahead into it, and random reads would otherwise leave one per miss.
 */
const MAX_IDLE_CURSORS = 8;

/** A BYOB reader of the Blob's bytes from `position` on. */
interface Cursor {
  position: number;
  reader: ReadableStreamBYOBReader;
}

/** An aligned window of the file. */
interface Window {
  bytes: Promise<Uint8Array>;
  /** The bytes once read. */
  read?: Uint8Array;
  /** Reads waiting for the bytes or copying out of them: the buffer is not reused while any is. */
  pins: number;
  /** Out of the cache: its buffer is reused once no read holds it. */
  dropped: boolean;
}

export function blobBackend(blob: BlobLike, opts: BlobBackendOptions = {}): BlobBackend {
  const windowBytes = opts.windowBytes ?? 2 * 1024 * 1024;
  const maxWindows = opts.windows ?? 16;
  // window index → the window (a pending read is shared by the requests that need it)
  const cache = new Map<number, Window>();
  const spare: ArrayBufferLike[] = []; // buffers of dropped windows, for the next ones
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
    while (idle.size > MAX_IDLE_CURSORS) {
      const [position, oldest] = idle.entries().next().value!;
      idle.delete(position);
      drop(oldest);
    }
  }

  /** Reads `length` bytes at the cursor into one new buffer. */
  async function fill(cursor: Cursor, length: number): Promise<Uint8Array> {
    let buffer: ArrayBufferLike = (length === windowBytes && spare.pop()) || new ArrayBuffer(length);
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

  function recycle(w: Window): void {
    if (!w.dropped || w.pins > 0 || !w.read) return;
    if (w.read.byteLength === windowBytes && spare.length < MAX_SPARE) spare.push(w.read.buffer);
    w.read = undefined;
  }

  function newWindow(index: number): Window {
    const w: Window = { bytes: load(index), pins: 0, dropped: false };
    w.bytes.then(
      (bytes) => {
        w.read = bytes;
        recycle(w);
      },
      () => {
        if (cache.get(index) === w) cache.delete(index); // a failed read is retried next time
      },
    );
    return w;
  }

  function remember(index: number, w: Window): void {
    cache.set(index, w);
    while (cache.size > maxWindows) {
      const [oldest, dropped] = cache.entries().next().value!;
      cache.delete(oldest);
      dropped.dropped = true;
      recycle(dropped);
    }
  }

  /** The window, pinned for the caller (unpin(): once copied out of). */
  function window(index: number): Window {
    let w = cache.get(index);
    if (w)
      cache.delete(index); // re-insert: Map order is the LRU order
    else w = newWindow(index);
    w.pins++; // before remember(): inserting it may drop another window, whose buffer the next load reuses
    remember(index, w);
    // a sequential reader: read its next window while this one is served
    const next = index + 1;
    if (cache.has(index - 1) && next * windowBytes < blob.size) {
      w.bytes.then(
        () => {
          if (!cache.has(next)) remember(next, newWindow(next));
        },
        () => undefined,
      );
    }
    return w;
  }

  function unpin(w: Window): void {
    w.pins--;
    recycle(w);
  }

  async function readInto(offset: number, dest: Uint8Array): Promise<void> {
    const length = dest.length;
    if (length >= windowBytes) {
      dest.set(await readAt(offset, length)); // as large as a window: not cached
      return;
    }
    const first = Math.floor(offset / windowBytes);
    const last = Math.floor((offset + length - 1) / windowBytes);
    const within = offset - first * windowBytes;
    const a = window(first);
    const b = last === first ? undefined : window(last);
    try {
      const [bytesA, bytesB] = await Promise.all([a.bytes, b?.bytes]);
      if (!bytesB) {
        dest.set(bytesA.subarray(within, within + length));
      } else {
        dest.set(bytesA.subarray(within));
        dest.set(bytesB.subarray(0, length - (bytesA.length - within)), bytesA.length - within);
      }
    } finally {
      unpin(a);
      if (b) unpin(b);
    }
  }

  return {
    size: blob.size,
    readOnly: true,
    readInto,
    async read(offset: number, length: number): Promise<Uint8Array> {
      const out = new Uint8Array(length);
      await readInto(offset, out);
      return out;
    },
  };
}
