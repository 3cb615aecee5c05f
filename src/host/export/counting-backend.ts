// A BlockBackend wrapper that counts the bytes the host reads and writes, and its requests in
// progress: the export backend's Stats (ReadIO/WriteIO) and the inactivity timer's input.
import type { BlockBackend } from '../../nbd/backend.js';
import type { HostStats } from '../types.js';

export interface CountingBackend extends BlockBackend {
  readonly stats: HostStats;
}

export function countingBackend(inner: BlockBackend, opts: { readOnly: boolean }): CountingBackend {
  const stats: HostStats = { readBytes: 0, writeBytes: 0, inFlight: 0 };
  const tracked = async <T>(op: () => Promise<T>): Promise<T> => {
    stats.inFlight += 1;
    try {
      return await op();
    } finally {
      stats.inFlight -= 1;
    }
  };
  const write = inner.write?.bind(inner);
  const writeZeroes = inner.writeZeroes?.bind(inner);
  const readInto = inner.readInto?.bind(inner);
  return {
    size: inner.size,
    readOnly: opts.readOnly || inner.readOnly,
    multiConn: inner.multiConn,
    stats,
    read: (offset, length) =>
      tracked(async () => {
        const data = await inner.read(offset, length);
        stats.readBytes += data.length;
        return data;
      }),
    readInto:
      readInto &&
      ((offset, dest) =>
        tracked(async () => {
          await readInto(offset, dest);
          stats.readBytes += dest.length;
        })),
    write:
      write &&
      ((offset, data, fua) =>
        tracked(async () => {
          await write(offset, data, fua);
          stats.writeBytes += data.length;
        })),
    writeZeroes:
      writeZeroes &&
      ((offset, length) =>
        tracked(async () => {
          await writeZeroes(offset, length);
          stats.writeBytes += length;
        })),
    flush: inner.flush?.bind(inner),
    trim: inner.trim?.bind(inner),
    close: inner.close?.bind(inner),
  };
}
