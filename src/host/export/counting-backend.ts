// A BlockBackend wrapper that counts the bytes the host reads and writes: the export backend's
// Stats (ReadIO/WriteIO) and the inactivity timer's input.
import type { BlockBackend } from '../../nbd/backend.js';
import type { HostStats } from '../types.js';

export interface CountingBackend extends BlockBackend {
  readonly stats: HostStats;
}

export function countingBackend(inner: BlockBackend, opts: { readOnly: boolean }): CountingBackend {
  const stats: HostStats = { readBytes: 0, writeBytes: 0 };
  const write = inner.write?.bind(inner);
  const writeZeroes = inner.writeZeroes?.bind(inner);
  const readInto = inner.readInto?.bind(inner);
  return {
    size: inner.size,
    readOnly: opts.readOnly || inner.readOnly,
    multiConn: inner.multiConn,
    stats,
    async read(offset, length) {
      const data = await inner.read(offset, length);
      stats.readBytes += data.length;
      return data;
    },
    readInto: readInto && (async (offset, dest) => {
      await readInto(offset, dest);
      stats.readBytes += dest.length;
    }),
    write: write && (async (offset, data, fua) => {
      await write(offset, data, fua);
      stats.writeBytes += data.length;
    }),
    writeZeroes: writeZeroes && (async (offset, length) => {
      await writeZeroes(offset, length);
      stats.writeBytes += length;
    }),
    flush: inner.flush?.bind(inner),
    trim: inner.trim?.bind(inner),
    close: inner.close?.bind(inner),
  };
}
