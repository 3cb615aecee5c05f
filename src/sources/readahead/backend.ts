// Sequential read-ahead over several upstream connections to one nbdkit: the fast path for
// network sources. nbdkit 1.32's curl plugin serves one request at a time per connection, its
// readahead filter does nothing over curl, and its cache filter serves each small read out of a
// whole cached block (a 128 KiB kernel read of a 16 MiB block copies 16 MiB). Here every upstream
// read is one aligned chunk (one HTTP range request), a sequential reader has the next chunks
// fetched in parallel over the other connections while it consumes this one, and a host read
// copies only its own bytes.
import { NbdError, type BlockBackend } from '../../nbd/backend.js';
import { chunkPool } from './chunk-pool.js';

export interface ReadaheadOptions {
  /** Every upstream read is one aligned chunk of this many bytes (the last one may be shorter). */
  chunkBytes: number;
  /** Chunks fetched ahead of a sequential reader (in flight at once, spread over the upstreams). */
  aheadChunks: number;
  /** Chunks kept, fetched or in flight; the least recently used fetched ones are dropped first. */
  maxChunks: number;
}

export interface ReadaheadBackend extends BlockBackend {
  /** Upstream chunk reads so far (how tests see the read-ahead at work). */
  readonly chunkReads: number;
  /** Chunk buffers holding memory now (held by chunks or spare): its memory in chunks. */
  readonly residentChunks: number;
}

/** Sequential readers told apart at once; a random reader only pushes the oldest one out. */
const MAX_STREAMS = 8;
/** A stream that has not continued within this many reads no longer takes a share of the chunks. */
const ACTIVE_READS = 4 * MAX_STREAMS;

interface Stream {
  /** The chunk after the last one it read: where it goes next. */
  next: number;
  /** The read (tick) that last continued it; never continued: -Infinity. */
  continued: number;
}

interface Chunk {
  data: Promise<Uint8Array>;
  settled: boolean;
  /** A read has used it: it was not only fetched ahead. */
  used: boolean;
  /** Reads copying out of it now: its buffer is reused only once none is left and it is dropped. */
  pins: number;
  dropped: boolean;
  /** The whole-chunk buffer its data lies in, once fetched. */
  buffer?: Uint8Array;
}

/** The request size advertised to the host (NBD preferred block size), at most a chunk: the NBD
 *  server's reply buffer is one request's size, and whole-chunk requests from nbdcopy (2 MiB)
 *  cost a 2 MiB buffer per reply, 35-40 MiB more at the daemon's peak (docs/performance.md). */
const PREFERRED_REQUEST_BYTES = 256 * 1024;

/** Reads stopped this long ago: the chunks are dropped and the memory of their buffers returned
 *  (the daemon's memory returns to idle while a mounted image is not read). */
export const IDLE_RELEASE_MS = 3000;

const EMPTY = new Uint8Array(0);

/** Fills dest from an upstream: straight into dest when it can (an NbdClient), else one copy. */
async function readUpstream(up: BlockBackend, offset: number, dest: Uint8Array): Promise<void> {
  if (up.readInto) return up.readInto(offset, dest);
  const data = await up.read(offset, dest.length);
  if (data.length !== dest.length)
    throw new NbdError('EIO', `upstream returned ${data.length} of ${dest.length} bytes`);
  dest.set(data);
}

export function readaheadBackend(upstreams: readonly BlockBackend[], opts: ReadaheadOptions): ReadaheadBackend {
  const primary = upstreams[0];
  if (!primary) throw new RangeError('read-ahead needs at least one upstream connection');
  if (opts.maxChunks < opts.aheadChunks + 1) throw new RangeError('maxChunks must exceed aheadChunks');
  const { chunkBytes } = opts;
  const size = primary.size;
  const lastChunk = Math.max(0, Math.ceil(size / chunkBytes) - 1);
  // insertion order is recency: a chunk used again is moved to the end
  const chunks = new Map<number, Chunk>();
  const busy = upstreams.map(() => 0);
  let chunkReads = 0;
  /** Recent sequential streams (a kernel's readahead, each of nbdcopy's workers), oldest first. */
  const streams: Stream[] = [];
  /** Reads so far: the clock that tells which streams are still active. */
  let tick = 0;

  /** Fetches in flight are capped at maxChunks: many random reads at once (a deep host queue)
   *  wait their turn instead of each holding a chunk of memory. */
  let freeFetches = opts.maxChunks;
  const fetchWaiters: Array<() => void> = [];

  async function fetchSlot(): Promise<void> {
    if (freeFetches > 0) freeFetches -= 1;
    else await new Promise<void>((resolve) => fetchWaiters.push(resolve));
  }

  function releaseFetchSlot(): void {
    const next = fetchWaiters.shift();
    if (next) next();
    else freeFetches += 1;
  }

  /** Chunk buffers: each fetch reads into a spare one (no garbage per chunk). */
  const pool = chunkPool(chunkBytes, opts.maxChunks);

  async function fetchData(index: number, chunk: Chunk): Promise<Uint8Array> {
    await fetchSlot();
    const up = busy.indexOf(Math.min(...busy));
    busy[up]! += 1;
    let buffer: Uint8Array | undefined;
    try {
      buffer = pool.take(); // may throw: no memory for it
      const start = index * chunkBytes;
      const data = buffer.subarray(0, Math.min(chunkBytes, size - start));
      await readUpstream(upstreams[up]!, start, data);
      chunk.buffer = buffer;
      return data;
    } catch (err) {
      if (buffer) pool.give(buffer);
      throw err;
    } finally {
      busy[up]! -= 1;
      releaseFetchSlot();
    }
  }

  function fetchChunk(index: number): Chunk {
    chunkReads += 1;
    const chunk: Chunk = { data: Promise.resolve(EMPTY), settled: false, used: false, pins: 0, dropped: false };
    chunk.data = fetchData(index, chunk);
    // handles every failure, so read-ahead nobody reads raises no unhandled rejection; the read
    // that needs a failed chunk still sees the error through chunk.data
    chunk.data.then(
      () => {
        chunk.settled = true;
        if (chunk.dropped) recycle(chunk);
      },
      // a failed fetch is forgotten so the next read tries again (the retry filter below may recover)
      () => {
        if (chunks.get(index) === chunk) chunks.delete(index);
      },
    );
    return chunk;
  }

  /** Forgets a chunk; its buffer is reused once no read copies out of it and its fetch landed. */
  function drop(index: number, chunk: Chunk): void {
    chunks.delete(index);
    chunk.dropped = true;
    recycle(chunk);
  }

  function recycle(chunk: Chunk): void {
    if (chunk.pins > 0 || !chunk.buffer) return;
    pool.give(chunk.buffer);
    chunk.buffer = undefined;
  }

  /** Drops every fetched chunk and returns the memory of their buffers (in-flight fetches land
   *  and are kept). */
  function releaseIdle(): void {
    for (const [index, chunk] of chunks) if (chunk.settled) drop(index, chunk);
    pool.release();
  }
  const idleTimer = setTimeout(releaseIdle, IDLE_RELEASE_MS);
  idleTimer.unref();

  /** The chunk at index, pinned for the caller (unpin() it once copied out of). */
  function chunkAt(index: number): Chunk {
    let chunk = chunks.get(index);
    if (chunk) chunks.delete(index);
    else chunk = fetchChunk(index);
    chunks.set(index, chunk);
    chunk.used = true;
    chunk.pins += 1;
    evict(opts.maxChunks, true);
    return chunk;
  }

  function unpin(chunk: Chunk): void {
    chunk.pins -= 1;
    if (chunk.dropped) recycle(chunk);
  }

  /** Whether a stream's last read ended in this chunk: reads smaller than a chunk come back to it
   *  (nbdcopy's 256 KiB, the kernel's 128 KiB), and dropping it costs a second fetch. */
  function streamIsIn(index: number): boolean {
    return streams.some((s) => s.next - 1 === index);
  }

  /** Drops least recently used chunks until `keep` fit: those a read used and no stream is in
   *  first, then (only for a read's own fetch) those streams are in, then those fetched ahead. A
   *  chunk in flight is a fetch already paid for: the bound holds again once it lands. */
  function evict(keep: number, evenUnread: boolean): void {
    const readDone = (index: number, chunk: Chunk) => chunk.used && !streamIsIn(index);
    const passes = evenUnread ? [readDone, (_: number, chunk: Chunk) => chunk.used, () => true] : [readDone];
    for (const droppable of passes) {
      for (const [index, chunk] of chunks) {
        if (chunks.size <= keep) return;
        if (chunk.settled && droppable(index, chunk)) drop(index, chunk);
      }
    }
  }

  /** Fetches ahead of a stream while there is room: read-ahead never pushes out unread read-ahead,
   *  and active streams share the chunks so that one's read-ahead does not push out another's. */
  function prefetchAfter(index: number): void {
    const active = streams.filter((s) => s.continued >= tick - ACTIVE_READS).length;
    const ahead = Math.max(1, Math.min(opts.aheadChunks, Math.floor(opts.maxChunks / Math.max(1, active)) - 1));
    for (let i = index + 1; i <= Math.min(lastChunk, index + ahead); i++) {
      if (chunks.has(i)) continue;
      evict(opts.maxChunks - 1, false);
      // dropped chunks that reads still copy out of hold buffers too: read-ahead waits for them
      // rather than push the buffers past the pool's bound (released, then faulted in again)
      if (chunks.size >= opts.maxChunks || pool.taken >= opts.maxChunks) return;
      chunks.set(i, fetchChunk(i));
    }
  }

  /** Whether a read of chunks first..last continues a recent stream; it becomes the newest either way. */
  function followsStream(first: number, last: number): boolean {
    tick += 1;
    const at = streams.findIndex((s) => first === s.next || first === s.next - 1);
    if (at >= 0) streams.splice(at, 1);
    else if (streams.length >= MAX_STREAMS) streams.shift();
    streams.push({ next: last + 1, continued: at >= 0 ? tick : -Infinity });
    return at >= 0;
  }

  /** Drops what a write makes stale (before it, and after it for fetches that raced it). */
  function invalidate(offset: number, length: number): void {
    const last = Math.floor((offset + Math.max(length, 1) - 1) / chunkBytes);
    for (let i = Math.floor(offset / chunkBytes); i <= last; i++) {
      const chunk = chunks.get(i);
      if (chunk) drop(i, chunk);
    }
  }

  async function writeThrough(offset: number, length: number, op: () => Promise<void>): Promise<void> {
    invalidate(offset, length);
    try {
      await op();
    } finally {
      invalidate(offset, length);
    }
  }

  /** Copies a host read out of its chunks: the one copy of its bytes after the socket's. */
  async function readInto(offset: number, dest: Uint8Array): Promise<void> {
    if (dest.length === 0) return;
    idleTimer.refresh();
    const first = Math.floor(offset / chunkBytes);
    const last = Math.floor((offset + dest.length - 1) / chunkBytes);
    const sequential = followsStream(first, last);
    const parts: Chunk[] = [];
    for (let i = first; i <= last; i++) parts.push(chunkAt(i));
    if (sequential) prefetchAfter(last);
    try {
      const datas = await Promise.all(parts.map((c) => c.data));
      let at = 0;
      for (const [k, data] of datas.entries()) {
        const from = k === 0 ? offset - first * chunkBytes : 0;
        const piece = data.subarray(from, from + dest.length - at);
        dest.set(piece, at);
        at += piece.length;
      }
    } finally {
      for (const chunk of parts) unpin(chunk);
    }
  }

  const backend: ReadaheadBackend = {
    size,
    readOnly: primary.readOnly,
    // every connection reads through the same chunks, and writes drop them: one view of the image
    multiConn: true,
    preferredBlockBytes: Math.min(chunkBytes, PREFERRED_REQUEST_BYTES),
    get chunkReads() {
      return chunkReads;
    },
    get residentChunks() {
      return pool.resident;
    },
    async read(offset, length) {
      const out = new Uint8Array(length);
      await readInto(offset, out);
      return out;
    },
    readInto,
    async close() {
      clearTimeout(idleTimer);
      releaseIdle();
      chunks.clear();
      await Promise.all(upstreams.map(async (u) => u.close?.()));
    },
  };
  if (primary.write)
    backend.write = (offset, data, fua) => writeThrough(offset, data.length, () => primary.write!(offset, data, fua));
  if (primary.writeZeroes)
    backend.writeZeroes = (offset, length) => writeThrough(offset, length, () => primary.writeZeroes!(offset, length));
  if (primary.trim)
    backend.trim = (offset, length) => writeThrough(offset, length, () => primary.trim!(offset, length));
  if (primary.flush)
    backend.flush = async () => {
      await Promise.all(upstreams.map(async (u) => u.flush?.()));
    };
  return backend;
}
