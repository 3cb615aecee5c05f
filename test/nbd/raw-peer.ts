// A byte-level NBD client for tests: sends exactly what a test says (also invalid things) and
// decodes whatever the server answers, simple or structured.
import { ByteReader } from '../../src/nbd/byte-reader.js';
import * as C from '../../src/nbd/constants.js';
import type { NbdServer } from '../../src/nbd/server.js';
import type { ByteStream } from '../../src/nbd/stream.js';
import { encodeOption, encodeRequest, getU64, view } from '../../src/nbd/wire.js';
import { memoryStreamPair } from './helpers.js';

export interface Reply {
  handle: number;
  error: number;
  data: Uint8Array;
  /** Structured chunk type, undefined for a simple reply. */
  chunkType?: number;
  message?: string;
}

export interface OptionReply {
  option: number;
  type: number;
  data: Uint8Array;
}

export class RawPeer {
  readonly reader: ByteReader;
  readonly served: Promise<void>;
  private readLengths = new Map<number, number>();
  closed = false;
  size = 0;
  flags = 0;

  readonly stream: ByteStream;

  constructor(server: NbdServer, highWater?: number) {
    const [ours, theirs] = memoryStreamPair(highWater);
    this.stream = ours;
    this.reader = new ByteReader(ours);
    ours.onClose(() => {
      this.closed = true;
    });
    this.served = server.serve(theirs);
  }

  send(b: Uint8Array): boolean {
    return this.stream.write(b);
  }

  /** Greeting and client flags; returns the handshake flags. */
  async start(clientFlags = C.FLAG_C_FIXED_NEWSTYLE | C.FLAG_C_NO_ZEROES): Promise<number> {
    const g = view(await this.reader.read(C.GREETING_BYTES));
    const flags = new Uint8Array(4);
    view(flags).setUint32(0, clientFlags);
    this.send(flags);
    return g.getUint16(16);
  }

  option(option: number, data: Uint8Array = new Uint8Array(0)): void {
    this.send(encodeOption(option, data));
  }

  async optionReply(): Promise<OptionReply> {
    const h = view(await this.reader.read(C.OPTION_REPLY_HEADER_BYTES));
    if (h.getUint32(0) !== C.OPTION_REPLY_MAGIC_HI) throw new Error('bad option reply magic');
    return { option: h.getUint32(8), type: h.getUint32(12), data: await this.reader.read(h.getUint32(16)) };
  }

  /** Full handshake: optional structured replies, then GO; returns the export info. */
  async open(opts: { structured?: boolean; exportName?: string } = {}): Promise<this> {
    await this.start();
    if (opts.structured) {
      this.option(C.OPT_STRUCTURED_REPLY);
      const r = await this.optionReply();
      if (r.type !== C.REP_ACK) throw new Error(`structured replies refused: ${r.type}`);
    }
    const name = new TextEncoder().encode(opts.exportName ?? '');
    const d = new Uint8Array(4 + name.length + 2);
    view(d).setUint32(0, name.length);
    d.set(name, 4);
    this.option(C.OPT_GO, d);
    for (;;) {
      const r = await this.optionReply();
      if (r.type === C.REP_ACK) return this;
      if (r.type & C.REP_FLAG_ERROR) throw new Error(`GO refused: ${r.type}`);
      const v = view(r.data);
      if (v.getUint16(0) === C.INFO_EXPORT) {
        this.size = getU64(v, 2);
        this.flags = v.getUint16(10);
      }
    }
  }

  request(
    type: number,
    opts: { flags?: number; handle?: number; offset?: number; length?: number; data?: Uint8Array } = {},
  ): boolean {
    const handle = opts.handle ?? 1;
    const length = opts.length ?? opts.data?.length ?? 0;
    if (type === C.CMD_READ) this.readLengths.set(handle, length);
    const ok = this.send(encodeRequest(opts.flags ?? 0, type, handle, opts.offset ?? 0, length));
    return opts.data ? this.send(opts.data) : ok;
  }

  async reply(): Promise<Reply> {
    const first = view(await this.reader.read(4)).getUint32(0);
    if (first === C.SIMPLE_REPLY_MAGIC) {
      const h = view(await this.reader.read(12));
      const handle = h.getUint32(8);
      const error = h.getUint32(0);
      const length = this.readLengths.get(handle);
      this.readLengths.delete(handle);
      const data = error === 0 && length ? await this.reader.read(length) : new Uint8Array(0);
      return { handle, error, data };
    }
    if (first !== C.STRUCTURED_REPLY_MAGIC) throw new Error(`bad reply magic 0x${first.toString(16)}`);
    const h = view(await this.reader.read(16));
    const chunkType = h.getUint16(2);
    const handle = h.getUint32(8);
    this.readLengths.delete(handle); // our server always answers in one chunk
    const payload = await this.reader.read(h.getUint32(12));
    const p = view(payload);
    if (chunkType & 0x8000) {
      const n = p.getUint16(4);
      return {
        handle,
        error: p.getUint32(0),
        data: new Uint8Array(0),
        chunkType,
        message: new TextDecoder().decode(payload.subarray(6, 6 + n)),
      };
    }
    return {
      handle,
      error: 0,
      data: chunkType === C.REPLY_TYPE_OFFSET_DATA ? payload.subarray(8) : payload,
      chunkType,
    };
  }
}
