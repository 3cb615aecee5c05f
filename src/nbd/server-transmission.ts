// The server side of the transmission phase: reads requests, runs them concurrently against the
// backend and replies as each completes (out of order). Bounded: at most MAX_INFLIGHT requests
// or MAX_INFLIGHT_BYTES of payload are being served at once, and no new request is read while
// the transport has not drained, so a peer that stops reading replies stops being served.
import { errnoOf, NBD_ERRNO, NbdError, type BlockBackend, type NbdErrnoName } from './backend.js';
import * as C from './constants.js';
import type { Connection } from './connection.js';
import { utf8Encode } from './platform.js';
import type { Negotiated } from './server-handshake.js';
import { getU64, setU64, view } from './wire.js';

const MAX_INFLIGHT = 128;
/**
 * Payload being served per connection. 2 MiB (8 reads of nbdcopy's 256 KiB) keeps a local pipe
 * full while bounding memory: a client queueing 64 MiB per connection (nbdcopy's default with 4
 * connections: 256 MiB) is served 2 MiB at a time. 8 MiB was no faster (bench/paths A and B) and
 * each connection's reply buffers, new memory the first time, cost page faults and RSS.
 */
const MAX_INFLIGHT_BYTES = 2 * 1024 * 1024;
/**
 * Once the budget is full, reading resumes only when this much of it is free, and the requests
 * queued behind are then admitted together: they leave in one write, and a relay's upstream
 * (nbdkit, the web and the page) wakes once for a batch instead of once per request. Resuming
 * at the first free byte passed requests one at a time (bench/paths B: the daemon's CPU per byte
 * 3-7 % lower with batches; in D the web's 6-7 % lower, Chromium's renderers 12-17 % higher).
 */
const ADMIT_BATCH_BYTES = 1024 * 1024;
const ZERO_CHUNK_BYTES = 1024 * 1024;
/**
 * Read-reply buffers kept for reuse per connection (see BufferPool): the in-flight budget twice,
 * once being filled and once in the transport (what was admitted can all be sent before the
 * socket drains), so that a steady stream of reads allocates nothing. The budget plus 1 MiB was
 * too little for the kernel's 1 MiB reads (NbdQueue): two buffers of three, a fresh 1 MiB for
 * each other reply, and the Legacy read-ahead's daemon at 1.72–1.78 CPU-s/GiB and 112 MiB peak
 * against 1.12 and 91 (bench/paths legacy). Freed with the connection.
 */
const POOL_BYTES = 2 * MAX_INFLIGHT_BYTES + 64 * 1024;

export interface TransferCounters {
  bytesRead: number;
  bytesWritten: number;
}

interface Request {
  flags: number;
  type: number;
  /** The 8-byte handle, echoed verbatim, as two 32-bit halves (no buffer per request). */
  handleHi: number;
  handleLo: number;
  offset: number;
  length: number;
}

export class Transmission {
  private inflight = 0;
  private inflightBytes = 0;
  private readonly backend: BlockBackend;
  private readonly structured: boolean;
  private readonly replyBuffers = new BufferPool(POOL_BYTES);

  constructor(
    private readonly conn: Connection,
    negotiated: Negotiated,
    private readonly maxRequestBytes: number,
    private readonly counters: TransferCounters,
  ) {
    this.backend = negotiated.backend;
    this.structured = negotiated.structured;
  }

  /** Serves requests until NBD_CMD_DISC (then drains in-flight work) or the connection ends. */
  async run(): Promise<void> {
    const { reader } = this.conn;
    const header = new Uint8Array(C.REQUEST_BYTES);
    const v = view(header);
    for (;;) {
      // every request gets a reply, valid or not: read none while the replies are not drained
      if (this.conn.isWriteBlocked) await this.conn.drained();
      if (this.conn.isClosed) return;
      await reader.readInto(header);
      if (v.getUint32(0) !== C.REQUEST_MAGIC) return; // unframed garbage: hard disconnect
      const req: Request = {
        flags: v.getUint16(4),
        type: v.getUint16(6),
        handleHi: v.getUint32(8),
        handleLo: v.getUint32(12),
        offset: getU64(v, 16),
        length: v.getUint32(24),
      };
      if (req.type === C.CMD_DISC) {
        await this.idle();
        return;
      }
      const payload = req.type === C.CMD_WRITE ? req.length : 0;
      const cost = costOf(req);
      const problem = this.check(req);
      if (problem) {
        if (payload > 0) await reader.discard(payload);
        this.replyError(req, problem[0], problem[1]);
        continue;
      }
      if (!this.fits(cost)) await this.admit(cost);
      if (this.conn.isClosed) return;
      const data = payload > 0 ? await reader.read(payload) : undefined;
      this.inflight++;
      this.inflightBytes += cost;
      if (req.type === C.CMD_READ) this.read(req);
      else void this.execute(req, data).finally(() => this.done(req));
    }
  }

  /** A request's reply is on its way: its budget frees up. */
  private done(req: Request): void {
    this.inflight--;
    this.inflightBytes -= costOf(req);
    this.conn.wake();
  }

  /** Why a request cannot be served (errno and message), or undefined when it is valid. */
  private check(req: Request): [NbdErrnoName, string] | undefined {
    const name = C.COMMAND_NAMES[req.type];
    if (name === undefined) return ['EINVAL', `unknown command ${req.type}`];
    let allowed = C.CMD_FLAG_FUA;
    if (req.type === C.CMD_READ && this.structured) allowed |= C.CMD_FLAG_DF;
    if (req.type === C.CMD_WRITE_ZEROES) allowed |= C.CMD_FLAG_NO_HOLE;
    if ((req.flags & ~allowed) !== 0)
      return ['EINVAL', `${name}: unsupported command flags 0x${req.flags.toString(16)}`];
    const writes = req.type === C.CMD_WRITE || req.type === C.CMD_TRIM || req.type === C.CMD_WRITE_ZEROES;
    if (writes && this.backend.readOnly) return ['EPERM', `${name}: the export is read-only`];
    if (req.type === C.CMD_FLUSH) {
      return req.offset !== 0 || req.length !== 0 ? ['EINVAL', 'flush: offset and length must be zero'] : undefined;
    }
    if ((req.type === C.CMD_READ || req.type === C.CMD_WRITE) && req.length > this.maxRequestBytes) {
      return ['EOVERFLOW', `${name}: ${req.length} bytes exceeds the maximum request of ${this.maxRequestBytes}`];
    }
    if (req.offset + req.length > this.backend.size) {
      const where = `${name}: offset ${req.offset} + length ${req.length} is beyond the end of the export (${this.backend.size} bytes)`;
      return [req.type === C.CMD_WRITE || req.type === C.CMD_WRITE_ZEROES ? 'ENOSPC' : 'EINVAL', where];
    }
    return undefined;
  }

  private fits(cost: number): boolean {
    return this.inflight === 0 || (this.inflight < MAX_INFLIGHT && this.inflightBytes + cost <= MAX_INFLIGHT_BYTES);
  }

  /**
   * Waits until a request of this cost fits the in-flight budget and ADMIT_BATCH_BYTES of it are
   * free, so that the requests queued behind it are admitted together.
   */
  private async admit(cost: number): Promise<void> {
    while (!(this.fits(cost) && this.inflightBytes + ADMIT_BATCH_BYTES <= MAX_INFLIGHT_BYTES) && !this.conn.isClosed)
      await this.conn.changed();
  }

  private async idle(): Promise<void> {
    while (this.inflight > 0 && !this.conn.isClosed) await this.conn.changed();
  }

  private async execute(req: Request, data: Uint8Array | undefined): Promise<void> {
    const b = this.backend;
    const fua = (req.flags & C.CMD_FLAG_FUA) !== 0;
    try {
      switch (req.type) {
        case C.CMD_WRITE:
          if (!b.write) throw new NbdError('EPERM', 'write: the export does not support writing');
          await b.write(req.offset, data!, fua);
          this.counters.bytesWritten += req.length;
          break;
        case C.CMD_FLUSH:
          await b.flush?.();
          break;
        case C.CMD_TRIM:
          // advisory: a backend that cannot discard keeps the data, which the spec allows
          await b.trim?.(req.offset, req.length);
          if (fua) await b.flush?.();
          break;
        case C.CMD_WRITE_ZEROES:
          await this.writeZeroes(req.offset, req.length);
          if (fua) await b.flush?.();
          break;
        case C.CMD_CACHE:
          break; // advisory prefetch: nothing to warm beyond what the backend caches itself
      }
      this.replyOk(req);
    } catch (err) {
      this.replyFailure(req, err);
    }
  }

  /** The backend's error as the request's reply: its errno, and what failed for a structured client. */
  private replyFailure(req: Request, err: unknown): void {
    this.replyError(
      req,
      errnoOf(err),
      `${C.COMMAND_NAMES[req.type]} failed: ${(err as Error)?.message ?? String(err)}`,
    );
  }

  /**
   * One buffer holds the reply header and the data, filled in place, sent with one write. The
   * buffer comes back for the next read once the transport has written it: no allocation,
   * zeroing or page faults per reply, and no garbage for the collector. Without async functions:
   * one `then` per read, the data path's only promise here.
   */
  private read(req: Request): void {
    const headerBytes = this.structured ? C.STRUCTURED_REPLY_HEADER_BYTES + 8 : C.SIMPLE_REPLY_BYTES;
    if (req.length === 0) {
      this.replyOk(req);
      this.done(req);
      return;
    }
    const reply = this.replyBuffers.take(headerBytes + req.length);
    const body = reply.subarray(headerBytes);
    const b = this.backend;
    if (b.readIntoThen) {
      b.readIntoThen(req.offset, body, (err) => (err ? this.readFailed(req, err) : this.readDone(req, reply)));
      return;
    }
    let filled: Promise<unknown>;
    try {
      filled = b.readInto
        ? b.readInto(req.offset, body)
        : b.read(req.offset, req.length).then((data) => copy(data, body));
    } catch (err) {
      this.readFailed(req, err);
      return;
    }
    filled.then(
      () => this.readDone(req, reply),
      (err: unknown) => this.readFailed(req, err),
    );
  }

  private readDone(req: Request, reply: Uint8Array): void {
    this.sendRead(req, reply);
    this.done(req);
  }

  /** The reply buffer is not pooled again: a backend may still be filling parts of it (a split read). */
  private readFailed(req: Request, err: unknown): void {
    this.replyFailure(req, err);
    this.done(req);
  }

  private sendRead(req: Request, reply: Uint8Array): void {
    const v = view(reply);
    if (this.structured) {
      v.setUint32(0, C.STRUCTURED_REPLY_MAGIC);
      v.setUint16(4, C.REPLY_FLAG_DONE);
      v.setUint16(6, C.REPLY_TYPE_OFFSET_DATA);
      setHandle(v, req);
      v.setUint32(16, 8 + req.length);
      setU64(v, 20, req.offset);
    } else {
      v.setUint32(0, C.SIMPLE_REPLY_MAGIC);
      v.setUint32(4, 0); // a reused buffer holds an old reply: every header field is written
      setHandle(v, req);
    }
    this.counters.bytesRead += req.length;
    this.conn.send(reply, () => this.replyBuffers.give(reply));
  }

  private async writeZeroes(offset: number, length: number): Promise<void> {
    const b = this.backend;
    if (b.writeZeroes) return b.writeZeroes(offset, length);
    if (!b.write) throw new NbdError('EPERM', 'the export does not support writing');
    const zeroes = new Uint8Array(Math.min(length, ZERO_CHUNK_BYTES));
    for (let done = 0; done < length; done += zeroes.length) {
      const n = Math.min(zeroes.length, length - done);
      await b.write(offset + done, zeroes.subarray(0, n), false);
    }
  }

  /** Success without data: a simple reply is allowed for every command but a structured read. */
  private replyOk(req: Request): void {
    if (this.structured && req.type === C.CMD_READ) {
      const b = new Uint8Array(C.STRUCTURED_REPLY_HEADER_BYTES);
      const v = view(b);
      v.setUint32(0, C.STRUCTURED_REPLY_MAGIC);
      v.setUint16(4, C.REPLY_FLAG_DONE);
      v.setUint16(6, C.REPLY_TYPE_NONE);
      setHandle(v, req);
      this.conn.send(b);
      return;
    }
    this.simpleReply(req, 0);
  }

  /** Structured replies carry a message for people; simple replies only the errno. */
  private replyError(req: Request, code: NbdErrnoName, message: string): void {
    if (!this.structured) {
      this.simpleReply(req, NBD_ERRNO[code]);
      return;
    }
    const text = utf8Encode(message).subarray(0, C.MAX_STRING_BYTES);
    const b = new Uint8Array(C.STRUCTURED_REPLY_HEADER_BYTES + 6 + text.length);
    const v = view(b);
    v.setUint32(0, C.STRUCTURED_REPLY_MAGIC);
    v.setUint16(4, C.REPLY_FLAG_DONE);
    v.setUint16(6, C.REPLY_TYPE_ERROR);
    setHandle(v, req);
    v.setUint32(16, 6 + text.length);
    v.setUint32(20, NBD_ERRNO[code]);
    v.setUint16(24, text.length);
    b.set(text, 26);
    this.conn.send(b);
  }

  private simpleReply(req: Request, errno: number): void {
    const b = new Uint8Array(C.SIMPLE_REPLY_BYTES);
    const v = view(b);
    v.setUint32(0, C.SIMPLE_REPLY_MAGIC);
    v.setUint32(4, errno);
    setHandle(v, req);
    this.conn.send(b);
  }
}

/** Payload bytes a request counts against the in-flight budget, from admission to its reply. */
function costOf(req: Request): number {
  return req.type === C.CMD_READ || req.type === C.CMD_WRITE ? req.length : 0;
}

/** A backend's read() result into the reply's body: it must be exactly the length asked for. */
function copy(data: Uint8Array, body: Uint8Array): void {
  if (data.length !== body.length) throw new NbdError('EIO', `backend returned ${data.length} of ${body.length} bytes`);
  body.set(data);
}

function setHandle(v: DataView, req: Request): void {
  v.setUint32(8, req.handleHi);
  v.setUint32(12, req.handleLo);
}

/**
 * Free buffers by exact size: a client sends the same request sizes over and over. Only what
 * the transport has given back is pooled, up to maxBytes, so memory stays bounded.
 */
class BufferPool {
  private readonly free = new Map<number, Uint8Array[]>();
  private pooledBytes = 0;

  constructor(private readonly maxBytes: number) {}

  take(bytes: number): Uint8Array {
    const b = this.free.get(bytes)?.pop();
    if (!b) return new Uint8Array(bytes);
    this.pooledBytes -= bytes;
    return b;
  }

  give(b: Uint8Array): void {
    if (this.pooledBytes + b.length > this.maxBytes) return;
    let list = this.free.get(b.length);
    if (!list) this.free.set(b.length, (list = []));
    list.push(b);
    this.pooledBytes += b.length;
  }
}
