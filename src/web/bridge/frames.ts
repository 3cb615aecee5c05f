// WebSocket framing (RFC 6455 §5) for the bridge, streamed: NBD is a byte stream, so a binary
// message need not be rebuilt. Each read from the socket is parsed in place; the payload bytes of
// binary frames are unmasked where they lie and handed on as views of that read, whatever the
// frame and message boundaries. Only frame headers (≤ 14 bytes) and control frames (≤ 125 bytes)
// are ever copied. What the decoder refuses, it reports with the close code to send.
import { unmask } from './unmask.js';

export const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** Close codes the bridge sends for a broken or refused stream. */
export const PROTOCOL_CLOSE = { protocolError: 1002, unsupportedData: 1003, invalidUtf8: 1007, tooBig: 1009 } as const;

export interface FrameSink {
  /** Payload bytes of binary messages, in order; a view of the read (used before the next one). */
  data(view: Uint8Array): void;
  /** A complete control frame (close, ping, pong) with its unmasked payload. */
  control(opcode: number, payload: Uint8Array): void;
  /** The peer broke the protocol or a limit: close with `code`; nothing more is decoded. */
  refuse(code: number, reason: string): void;
}

const MAX_HEADER_BYTES = 14;
const MAX_CONTROL_BYTES = 125;

export class FrameDecoder {
  private readonly header = new Uint8Array(MAX_HEADER_BYTES);
  private readonly headerView = new DataView(this.header.buffer);
  private headerHave = 0;
  private readonly mask = new Uint8Array(4);
  private readonly control = new Uint8Array(MAX_CONTROL_BYTES);
  /** The current frame: its opcode, FIN bit, payload length and payload bytes still to come. */
  private opcode = 0;
  private fin = false;
  private length = 0;
  private remaining = 0;
  private inPayload = false;
  /** Inside a fragmented binary message (continuation frames allowed) and its size so far. */
  private inMessage = false;
  private messageBytes = 0;
  private failed = false;

  constructor(
    private readonly sink: FrameSink,
    private readonly maxMessageBytes: number,
  ) {}

  /** Parses one read from the socket. Unmasks `chunk` in place (the caller owns it). */
  push(chunk: Uint8Array): void {
    let pos = 0;
    while (pos < chunk.length && !this.failed) {
      if (!this.inPayload) {
        pos = this.readHeader(chunk, pos);
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - pos);
      const piece = chunk.subarray(pos, pos + take);
      const phase = (this.length - this.remaining) & 3;
      unmask(piece, this.mask, phase);
      this.remaining -= take;
      pos += take;
      if (this.opcode >= OPCODE.close) this.control.set(piece, this.length - this.remaining - take);
      else this.sink.data(piece);
      if (this.remaining === 0) this.endFrame();
    }
  }

  /** Takes header bytes from chunk[pos..]; returns the new position. */
  private readHeader(chunk: Uint8Array, pos: number): number {
    const need = this.headerHave < 2 ? 2 : headerBytes(this.header[1]!);
    const take = Math.min(need - this.headerHave, chunk.length - pos);
    this.header.set(chunk.subarray(pos, pos + take), this.headerHave);
    this.headerHave += take;
    pos += take;
    if (this.headerHave === need && need > 2) this.startFrame();
    return pos;
  }

  private startFrame(): void {
    const h = this.header;
    const v = this.headerView;
    this.headerHave = 0;
    this.fin = (h[0]! & 0x80) !== 0;
    this.opcode = h[0]! & 0x0f;
    const len7 = h[1]! & 0x7f;
    let at = 2;
    let length = len7;
    if (len7 === 126) {
      length = v.getUint16(2);
      at = 4;
    } else if (len7 === 127) {
      // above 2^53 no JavaScript number holds it; far above any limit anyway
      length = v.getUint32(2) * 2 ** 32 + v.getUint32(6);
      at = 10;
    }
    this.mask.set(h.subarray(at, at + 4));
    const problem = this.check(length);
    if (problem) {
      this.failed = true;
      this.sink.refuse(problem[0], problem[1]);
      return;
    }
    if (this.opcode < OPCODE.close) {
      this.inMessage = !this.fin;
      this.messageBytes = this.fin ? 0 : this.messageBytes + length;
    }
    this.length = length;
    this.remaining = length;
    this.inPayload = true;
    if (length === 0) this.endFrame();
  }

  /** Why the frame just read cannot be taken (close code and reason), or undefined. */
  private check(length: number): [number, string] | undefined {
    const h = this.header;
    if ((h[0]! & 0x70) !== 0) return [PROTOCOL_CLOSE.protocolError, 'reserved bits set (no extension was agreed)'];
    if ((h[1]! & 0x80) === 0) return [PROTOCOL_CLOSE.protocolError, 'client frames must be masked'];
    switch (this.opcode) {
      case OPCODE.close:
      case OPCODE.ping:
      case OPCODE.pong:
        if (!this.fin || length > MAX_CONTROL_BYTES)
          return [PROTOCOL_CLOSE.protocolError, 'control frames must be whole and at most 125 bytes'];
        return undefined;
      case OPCODE.text:
        if (this.inMessage) return [PROTOCOL_CLOSE.protocolError, 'a new message inside a fragmented one'];
        return [PROTOCOL_CLOSE.unsupportedData, 'a text frame: NBD travels in binary frames only'];
      case OPCODE.binary:
        if (this.inMessage) return [PROTOCOL_CLOSE.protocolError, 'a new message inside a fragmented one'];
        break;
      case OPCODE.continuation:
        if (!this.inMessage) return [PROTOCOL_CLOSE.protocolError, 'a continuation frame outside a message'];
        break;
      default:
        return [PROTOCOL_CLOSE.protocolError, `unknown opcode ${this.opcode}`];
    }
    if ((this.opcode === OPCODE.continuation ? this.messageBytes : 0) + length > this.maxMessageBytes)
      return [PROTOCOL_CLOSE.tooBig, `a message is larger than ${this.maxMessageBytes} bytes`];
    return undefined;
  }

  private endFrame(): void {
    this.inPayload = false;
    if (this.opcode >= OPCODE.close) this.sink.control(this.opcode, this.control.slice(0, this.length));
  }
}

/** A frame header's size, known from its second byte: base, extended length, mask key. */
function headerBytes(second: number): number {
  const len7 = second & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + 4;
}

/** The header of an unmasked frame from the server (FIN set) carrying `length` bytes. */
export function serverFrameHeader(opcode: number, length: number): Buffer {
  if (length < 126) return Buffer.from([0x80 | opcode, length]);
  if (length < 0x10000) {
    const h = Buffer.allocUnsafe(4);
    h[0] = 0x80 | opcode;
    h[1] = 126;
    h.writeUInt16BE(length, 2);
    return h;
  }
  const h = Buffer.allocUnsafe(10);
  h[0] = 0x80 | opcode;
  h[1] = 127;
  h.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
  h.writeUInt32BE(length >>> 0, 6);
  return h;
}
