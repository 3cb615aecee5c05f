// Fuzzing the server's handshake and request parser: seeded generation of client byte streams
// (valid grammar, then mutated: random, truncated, oversized, wrong magic, odd chunking), fed to
// one NbdServer. A case fails when serve() does not finish after the input ends (hang), when
// the server reports an unexpected internal error (crash), or when it writes unbounded output.
import type { BlockBackend } from '../../src/nbd/backend.js';
import * as C from '../../src/nbd/constants.js';
import { NbdServer } from '../../src/nbd/server.js';
import type { ByteStream } from '../../src/nbd/stream.js';
import { encodeOption, encodeRequest, setU64, view } from '../../src/nbd/wire.js';

const EXPORT_BYTES = 64 * 1024;
/** Output allowed per case: every request answered with at most a full-export read, plus option chatter. */
const MAX_OUTPUT_BYTES = 40 * (EXPORT_BYTES + 64) + 64 * 1024;
const HANG_MS = 2000;

/** mulberry32: small, fast, seeded. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random bytes to slice payloads from: their content does not matter to the parser, only their length. */
const NOISE = (() => {
  const r = prng(0x5eed);
  return Uint8Array.from({ length: 64 * 1024 }, () => Math.floor(r() * 256));
})();

class Gen {
  constructor(readonly rnd: () => number) {}
  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Uint8Array {
    const at = this.int(NOISE.length - n + 1);
    return NOISE.subarray(at, at + n);
  }
  /** Mostly small, sometimes boundary or huge values. */
  u32(): number {
    return this.pick([
      0,
      1,
      2,
      4,
      6,
      12,
      512,
      4096,
      65536,
      C.DEFAULT_MAX_REQUEST_BYTES,
      C.DEFAULT_MAX_REQUEST_BYTES + 1,
      0x7fffffff,
      0xffffffff,
      this.int(100),
      this.int(0x100000000),
    ]);
  }
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  view(b).setUint32(0, n);
  return b;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function infoData(g: Gen, name: string): Uint8Array {
  const n = new TextEncoder().encode(name);
  const count = g.int(4);
  const d = new Uint8Array(4 + n.length + 2 + 2 * count);
  const v = view(d);
  v.setUint32(0, g.chance(0.9) ? n.length : g.u32());
  d.set(n, 4);
  v.setUint16(4 + n.length, g.chance(0.9) ? count : g.int(65536));
  for (let i = 0; i < count; i++) v.setUint16(6 + n.length + 2 * i, g.int(5));
  return d;
}

function option(g: Gen): { bytes: Uint8Array; entersTransmission: boolean } {
  const name = g.chance(0.8) ? '' : g.pick(['disk', 'x', '\u00e9', 'a'.repeat(5000)]);
  switch (g.int(9)) {
    case 0:
      return { bytes: encodeOption(C.OPT_EXPORT_NAME, new TextEncoder().encode(name)), entersTransmission: true };
    case 1:
    case 2:
      return { bytes: encodeOption(C.OPT_GO, infoData(g, name)), entersTransmission: true };
    case 3:
      return { bytes: encodeOption(C.OPT_INFO, infoData(g, name)), entersTransmission: false };
    case 4:
      return { bytes: encodeOption(C.OPT_STRUCTURED_REPLY, g.bytes(g.chance(0.8) ? 0 : 3)), entersTransmission: false };
    case 5:
      return { bytes: encodeOption(C.OPT_LIST, g.bytes(g.chance(0.8) ? 0 : 2)), entersTransmission: false };
    case 6:
      return { bytes: encodeOption(C.OPT_ABORT, new Uint8Array(0)), entersTransmission: false };
    case 7: {
      // declared length far beyond what follows
      const o = encodeOption(g.int(12), g.bytes(g.int(16)));
      view(o).setUint32(12, g.u32());
      return { bytes: o, entersTransmission: false };
    }
    default:
      return { bytes: encodeOption(g.int(20), g.bytes(g.int(40))), entersTransmission: false };
  }
}

function request(g: Gen): Uint8Array {
  const type = g.chance(0.9)
    ? g.pick([
        C.CMD_READ,
        C.CMD_READ,
        C.CMD_WRITE,
        C.CMD_FLUSH,
        C.CMD_TRIM,
        C.CMD_CACHE,
        C.CMD_WRITE_ZEROES,
        C.CMD_DISC,
      ])
    : g.int(65536);
  const flags = g.chance(0.7) ? 0 : g.chance(0.5) ? 1 << g.int(6) : g.int(65536);
  const offset = g.chance(0.8)
    ? g.int(EXPORT_BYTES)
    : g.pick([EXPORT_BYTES, EXPORT_BYTES - 1, 2 ** 53, 2 ** 63, g.u32()]);
  const length = g.chance(0.7) ? g.int(8192) : g.u32();
  const req = encodeRequest(flags, type, g.int(0x100000000), 0, length);
  setU64(view(req), 16, Math.min(offset, 2 ** 64 - 1));
  if (type !== C.CMD_WRITE) return req;
  // the payload as announced, or shorter (the stream then ends or the next header is eaten)
  const payload = g.chance(0.8) ? Math.min(length, 16384) : g.int(64);
  return concat([req, g.bytes(payload)]);
}

/** One client byte stream, already split into the chunks it will arrive in. */
export function generateCase(seed: number): Uint8Array[] {
  const g = new Gen(prng(seed));
  const parts: Uint8Array[] = [];
  parts.push(u32(g.chance(0.9) ? g.pick([0, 1, 2, 3]) : g.int(0x100000000)));
  let transmission = false;
  for (let i = g.int(5); i >= 0 && !transmission; i--) {
    const o = option(g);
    parts.push(o.bytes);
    transmission = o.entersTransmission;
  }
  if (transmission) for (let i = g.int(24); i > 0; i--) parts.push(request(g));
  let bytes = concat(parts);
  const mutations = g.chance(0.5) ? 0 : 1 + g.int(4);
  for (let m = 0; m < mutations; m++) {
    switch (g.int(4)) {
      case 0:
        if (bytes.length > 0) bytes[g.int(bytes.length)]! ^= 1 << g.int(8);
        break; // bit flip
      case 1:
        bytes = bytes.subarray(0, g.int(bytes.length + 1));
        break; // truncation
      case 2: {
        // inserted garbage
        const at = g.int(bytes.length + 1);
        bytes = concat([bytes.subarray(0, at), g.bytes(1 + g.int(32)), bytes.subarray(at)]);
        break;
      }
      default:
        bytes = g.bytes(g.int(200)).slice(); // pure noise (a copy: bit flips must not touch NOISE)
    }
  }
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = g.chance(0.5) ? bytes.length - at : 1 + g.int(64);
    chunks.push(bytes.subarray(at, at + n));
    at += n;
  }
  return chunks;
}

/** A ByteStream that delivers the given chunks (honouring pause), counts output, then ends. */
class ScriptedStream implements ByteStream {
  output = 0;
  private dataCb: Array<(d: Uint8Array) => void> = [];
  private closeCb: Array<(err?: Error) => void> = [];
  private paused = false;
  private closed = false;
  private next = 0;

  constructor(private readonly chunks: Uint8Array[]) {}

  write(data: Uint8Array): boolean {
    this.output += data.length;
    return true;
  }
  onData(cb: (d: Uint8Array) => void): void {
    this.dataCb.push(cb);
  }
  onDrain(): void {}
  onClose(cb: (err?: Error) => void): void {
    this.closeCb.push(cb);
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    this.pump();
  }
  close(): void {
    this.end();
  }

  pump(): void {
    while (!this.paused && !this.closed && this.next < this.chunks.length) {
      const c = this.chunks[this.next++]!;
      for (const cb of this.dataCb) cb(c);
    }
  }
  /** All input delivered (or the server stopped reading): the peer hangs up. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    for (const cb of this.closeCb) cb();
  }
}

export interface FuzzResult {
  cases: number;
  failures: string[];
  maxOutput: number;
  /** Payload the server served and accepted: shows the cases reach the transmission phase. */
  bytesRead: number;
  bytesWritten: number;
}

function fuzzBackend(): BlockBackend {
  const data = new Uint8Array(EXPORT_BYTES);
  return {
    size: EXPORT_BYTES,
    readOnly: false,
    read: async (offset, length) => data.slice(offset, offset + length),
    write: async (offset, bytes) => {
      data.set(bytes, offset);
    },
    flush: async () => {},
  };
}

async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs cases [first, first + count) of the seed; stops collecting after 10 failures. */
export async function fuzz(
  seed: number,
  first: number,
  count: number,
  onProgress?: (done: number) => void,
): Promise<FuzzResult> {
  const failures: string[] = [];
  const errors: Error[] = []; // what the server reported for the current case
  const backends = new Map([
    ['', fuzzBackend()],
    ['disk', { ...fuzzBackend(), readOnly: true }],
  ]);
  const server = new NbdServer({
    exports: backends,
    onError: (err) => {
      errors.push(err);
    },
  });
  let maxOutput = 0;
  for (let i = first; i < first + count && failures.length < 10; i++) {
    const caseSeed = (seed * 1_000_003 + i) >>> 0;
    const stream = new ScriptedStream(generateCase(caseSeed));
    errors.length = 0;
    const served = server.serve(stream);
    stream.pump();
    // let the server work through what it received (backend calls are promises), then hang up
    await new Promise((r) => setImmediate(r));
    stream.end();
    let done = false;
    void served.then(() => {
      done = true;
    });
    for (let turn = 0; turn < 3 && !done; turn++) await new Promise((r) => setImmediate(r));
    // rarely needed (the server finishes within a turn or two): a real wait before calling it a hang
    const hung = !done && !(await settlesWithin(served, HANG_MS));
    if (hung) failures.push(`case ${caseSeed}: serve() did not finish within ${HANG_MS} ms after the input ended`);
    for (const err of errors) failures.push(`case ${caseSeed}: internal error ${err.stack ?? err.message}`);
    if (stream.output > MAX_OUTPUT_BYTES) failures.push(`case ${caseSeed}: ${stream.output} bytes of output`);
    maxOutput = Math.max(maxOutput, stream.output);
    if (onProgress && (i - first + 1) % 10000 === 0) onProgress(i - first + 1);
  }
  return {
    cases: count,
    failures,
    maxOutput,
    bytesRead: server.counters.bytesRead,
    bytesWritten: server.counters.bytesWritten,
  };
}
