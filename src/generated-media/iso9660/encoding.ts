// ECMA-119 field encodings: both-byte-order numbers, padded identifiers, the two date forms.
import { IMAGE_TIME } from '../tree.js';

export const SECTOR = 2048;

/** 7.3.3: a 32-bit number little-endian then big-endian (8 bytes). */
export function both32(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32LE(value, offset);
  buf.writeUInt32BE(value, offset + 4);
}

/** 7.2.3: a 16-bit number little-endian then big-endian (4 bytes). */
export function both16(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt16LE(value, offset);
  buf.writeUInt16BE(value, offset + 2);
}

/** An identifier field padded with spaces: ASCII in the primary descriptor, UCS-2 big-endian
 *  (padded with U+0020) in the Joliet one. */
export function identifier(buf: Buffer, offset: number, length: number, text: string, ucs2: boolean): void {
  const bytes = ucs2 ? ucs2be(text) : Buffer.from(text, 'latin1');
  const field = ucs2 ? ucs2be(' '.repeat(length / 2)) : Buffer.alloc(length, 0x20);
  bytes.copy(field, 0, 0, Math.min(bytes.length, length));
  field.copy(buf, offset);
}

export function ucs2be(text: string): Buffer {
  return Buffer.from(text, 'utf16le').swap16();
}

/** 9.1.5: the 7-byte recording date of a directory record (UTC). */
export function recordDate(buf: Buffer, offset: number): void {
  buf.set([IMAGE_TIME.year - 1900, IMAGE_TIME.month, IMAGE_TIME.day, 0, 0, 0, 0], offset);
}

/** 8.4.26.1: the 17-byte volume date; `set` false writes the "not specified" form. */
export function volumeDate(buf: Buffer, offset: number, set: boolean): void {
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  const digits = set
    ? `${pad(IMAGE_TIME.year, 4)}${pad(IMAGE_TIME.month, 2)}${pad(IMAGE_TIME.day, 2)}00000000`
    : '0'.repeat(16);
  buf.write(digits, offset, 'latin1');
  buf[offset + 16] = 0;
}

export const sectorsFor = (bytes: number) => Math.ceil(bytes / SECTOR);
