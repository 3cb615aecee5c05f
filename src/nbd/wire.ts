// Encoders for the fixed NBD wire structures shared by the server and the client.
// All integers are big-endian; u64 values are JS numbers (exact up to 2^53, far above any export).
import * as C from './constants.js';

export function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export function setU64(v: DataView, at: number, n: number): void {
  v.setUint32(at, Math.floor(n / 0x100000000));
  v.setUint32(at + 4, n >>> 0);
}

/** A u64 as a number; values beyond 2^53 lose precision but stay beyond any valid offset. */
export function getU64(v: DataView, at: number): number {
  return v.getUint32(at) * 0x100000000 + v.getUint32(at + 4);
}

export function encodeGreeting(handshakeFlags: number): Uint8Array {
  const b = new Uint8Array(C.GREETING_BYTES);
  const v = view(b);
  v.setUint32(0, C.NBDMAGIC_HI);
  v.setUint32(4, C.NBDMAGIC_LO);
  v.setUint32(8, C.IHAVEOPT_HI);
  v.setUint32(12, C.IHAVEOPT_LO);
  v.setUint16(16, handshakeFlags);
  return b;
}

export function encodeOption(option: number, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(C.OPTION_HEADER_BYTES + data.length);
  const v = view(b);
  v.setUint32(0, C.IHAVEOPT_HI);
  v.setUint32(4, C.IHAVEOPT_LO);
  v.setUint32(8, option);
  v.setUint32(12, data.length);
  b.set(data, C.OPTION_HEADER_BYTES);
  return b;
}

export function encodeOptionReply(option: number, type: number, data: Uint8Array): Uint8Array {
  const b = new Uint8Array(C.OPTION_REPLY_HEADER_BYTES + data.length);
  const v = view(b);
  v.setUint32(0, C.OPTION_REPLY_MAGIC_HI);
  v.setUint32(4, C.OPTION_REPLY_MAGIC_LO);
  v.setUint32(8, option);
  v.setUint32(12, type);
  v.setUint32(16, data.length);
  b.set(data, C.OPTION_REPLY_HEADER_BYTES);
  return b;
}

/** The request header; the handle goes in as the low 32 bits (the high 32 are zero). */
export function encodeRequest(flags: number, type: number, handle: number, offset: number, length: number): Uint8Array {
  const b = new Uint8Array(C.REQUEST_BYTES);
  const v = view(b);
  v.setUint32(0, C.REQUEST_MAGIC);
  v.setUint16(4, flags);
  v.setUint16(6, type);
  v.setUint32(12, handle);
  setU64(v, 16, offset);
  v.setUint32(24, length);
  return b;
}
