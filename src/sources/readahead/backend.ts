// Sequential read-ahead over several upstream connections to one nbdkit: the fast path for
// network sources. nbdkit 1.32's curl plugin serves one request at a time per connection, its
// readahead filter does nothing over curl, and its cache filter serves each small read out of a
// whole cached block (a 128 KiB kernel read of a 16 MiB block copies 16 MiB). Here every upstream
// read is one aligned chunk (one HTTP range request), a sequential reader has the next chunks
// fetched in parallel over the other connections while it consumes this one, and a host read
// copies only its own bytes.
import { NbdError, type BlockBackend } from '../../nbd/backend.js';

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

/** Reads stopped this long ago: the chunks and spare buffers are let go (the daemon's memory
 *  returns to idle while a mounted image is not read). */
const IDLE_RELEASE_MS = 3000;

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

  /** Chunk buffers no chunk holds any more: each fetch reads into one (no garbage per chunk). */
  let spare: Uint8Array[] = [];

  async function fetchData(index: number, chunk: Chunk): Promise<Uint8Array> {
    await fetchSlot();
    const up = busy.indexOf(Math.min(...busy));
    busy[up]! += 1;
    const buffer = spare.pop() ?? new Uint8Array(chunkBytes);
    try {
      const start = index * chunkBytes;
      const data = buffer.subarray(0, Math.min(chunkBytes, size - start));
      await readUpstream(upstreams[up]!, start, data);
      chunk.buffer = buffer;
      return data;
    } catch (err) {
      spare.push(buffer);
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
    if (spare.length < opts.maxChunks) spare.push(chunk.buffer);
    chunk.buffer = undefined;
  }

  /** Drops every fetched chunk and spare buffer (in-flight fetches land and are kept). */
  function releaseIdle(): void {
    for (const [index, chunk] of chunks) if (chunk.settled) drop(index, chunk);
    spare = [];
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

  /** Drops least recently used chunks until `keep` fit: those a read used first, then (only for a
   *  read's own fetch) those fetched ahead. A chunk in flight is a fetch already paid for: the
   *  bound holds again once it lands. */
  function evict(keep: number, evenUnused: boolean): void {
    for (const onlyUsed of evenUnused ? [true, false] : [true]) {
      for (const [index, chunk] of chunks) {
        if (chunks.size <= keep) return;
        if (chunk.settled && (chunk.used || !onlyUsed)) drop(index, chunk);
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
      if (chunks.size >= opts.maxChunks) return;
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
    preferredBlockBytes: chunkBytes,
    get chunkReads() {
      return chunkReads;
    },
    async read(offset, length) {
      const out = new Uint8Array(length);
      await readInto(offset, out);
      return out;
    },
    readInto,
    async close() {
      clearTimeout(idleTimer);
      chunks.clear();
      spare = [];
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
