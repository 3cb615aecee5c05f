// A generated image served from memory: the bytes never touch a disk. Writable mounts change
// this copy only (it is the daemon's own, built for this attachment). Reads are tracked per
// 4 KiB block so the daemon can eject once the host has read every byte, when asked.
import { NbdError, type BlockBackend } from '../../nbd/backend.js';

const COVERAGE_BLOCK_BYTES = 4096;

export interface MemoryBackendOptions {
  readOnly: boolean;
  /** Called once, when every byte of the image has been read at least once. */
  onFullyRead?: () => void;
}

export function memoryBackend(image: Uint8Array, opts: MemoryBackendOptions): BlockBackend {
  const blocks = Math.ceil(image.length / COVERAGE_BLOCK_BYTES);
  const seen = opts.onFullyRead ? new Uint8Array(blocks) : undefined;
  let unseen = blocks;
  const noteRead = (offset: number, length: number) => {
    if (!seen || unseen === 0 || length === 0) return;
    const last = Math.floor((offset + length - 1) / COVERAGE_BLOCK_BYTES);
    for (let b = Math.floor(offset / COVERAGE_BLOCK_BYTES); b <= last; b++) {
      if (seen[b] === 0) {
        seen[b] = 1;
        unseen--;
      }
    }
    if (unseen === 0) opts.onFullyRead?.();
  };
  return {
    size: image.length,
    readOnly: opts.readOnly,
    multiConn: true,
    async readInto(offset, dest) {
      dest.set(image.subarray(offset, offset + dest.length));
      noteRead(offset, dest.length);
    },
    async read(offset, length) {
      noteRead(offset, length);
      return image.slice(offset, offset + length);
    },
    async write(offset, data) {
      if (opts.readOnly) throw new NbdError('EPERM', 'the generated image is served read-only');
      image.set(data, offset);
    },
    async flush() {},
    async writeZeroes(offset, length) {
      if (opts.readOnly) throw new NbdError('EPERM', 'the generated image is served read-only');
      image.fill(0, offset, offset + length);
    },
  };
}
