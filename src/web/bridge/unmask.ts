// Undoes the client's masking (RFC 6455 §5.3) in place. Every byte from a browser is XORed with
// a 4-byte key, so this loop touches the whole transfer: it runs on 32-bit words, or in the
// bufferutil addon when it loads (WS_NO_BUFFER_UTIL=1 turns it off, as it does for `ws`).
import { createRequire } from 'node:module';

interface BufferUtil {
  unmask(buffer: Uint8Array, mask: Uint8Array): void;
}

/** Below this many bytes a call into the addon costs more than the bytes. */
const ADDON_MIN_BYTES = 32;

function loadBufferUtil(): BufferUtil | undefined {
  if (process.env.WS_NO_BUFFER_UTIL) return undefined;
  try {
    return createRequire(import.meta.url)('bufferutil') as BufferUtil;
  } catch {
    return undefined; // an optional speed-up: the word loop below does the same
  }
}

const addon = loadBufferUtil();
/** Whether the bufferutil addon does the unmasking (for benchmarks and the log). */
export const unmaskAddon = addon !== undefined;

const rotated = new Uint8Array(4);
const word = new Uint32Array(1);
const wordBytes = new Uint8Array(word.buffer);

/**
 * XORs `data` with `mask`, where data[0] is payload byte number `phase` (mod 4) of its frame:
 * a frame's payload arrives split across reads, each piece unmasked as it comes.
 */
export function unmask(data: Uint8Array, mask: Uint8Array, phase: number): void {
  for (let i = 0; i < 4; i++) rotated[i] = mask[(i + phase) & 3]!;
  if (addon && data.length >= ADDON_MIN_BYTES) {
    addon.unmask(data, rotated);
    return;
  }
  // bytes up to the first 4-byte aligned address, then whole words, then the tail
  const head = Math.min(data.length, (4 - (data.byteOffset & 3)) & 3);
  for (let i = 0; i < head; i++) data[i]! ^= rotated[i]!;
  const words = (data.length - head) >>> 2;
  if (words > 0) {
    for (let i = 0; i < 4; i++) wordBytes[i] = rotated[(head + i) & 3]!;
    const key = word[0]!;
    const w = new Uint32Array(data.buffer, data.byteOffset + head, words);
    for (let i = 0; i < words; i++) w[i]! ^= key;
  }
  for (let i = head + words * 4; i < data.length; i++) data[i]! ^= rotated[i & 3]!;
}
