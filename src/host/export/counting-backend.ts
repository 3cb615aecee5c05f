// A BlockBackend wrapper that counts the bytes the host reads and writes, and its requests in
// progress: the export backend's Stats (ReadIO/WriteIO) and the inactivity timer's input.
import type { BlockBackend } from '../../nbd/backend.js';
import type { HostStats } from '../types.js';

export interface CountingBackend extends BlockBackend {
  readonly stats: HostStats;
}

export function countingBackend(inner: BlockBackend, opts: { readOnly: boolean }): CountingBackend {
  const stats: HostStats = { readBytes: 0, writeBytes: 0, inFlight: 0 };
  /**
   * Counts `start`'s request in progress until it settles, then `counted` its bytes. One `then`
   * rather than async wrappers: this runs per request on the export's data path, where each
   * async layer is promises and microtask turns more.
   */
  const tracked = <T>(start: () => Promise<T>, counted: (value: T) => void): Promise<T> => {
    const request = start(); // a synchronous throw goes to the caller, counted nowhere
    stats.inFlight += 1;
    return request.then(
      (value) => {
        stats.inFlight -= 1;
        counted(value);
        return value;
      },
      (err: unknown) => {
        stats.inFlight -= 1;
        throw err;
      },
    );
  };
  const write = inner.write?.bind(inner);
  const writeZeroes = inner.writeZeroes?.bind(inner);
  const readInto = inner.readInto?.bind(inner);
  const readIntoThen = inner.readIntoThen?.bind(inner);
  return {
    size: inner.size,
    readOnly: opts.readOnly || inner.readOnly,
    multiConn: inner.multiConn,
    stats,
    read: (offset, length) =>
      tracked(
        () => inner.read(offset, length),
        (data) => (stats.readBytes += data.length),
      ),
    readInto:
      readInto &&
      ((offset, dest) =>
        tracked(
          () => readInto(offset, dest),
          () => (stats.readBytes += dest.length),
        )),
    readIntoThen:
      readIntoThen &&
      ((offset, dest, done) => {
        stats.inFlight += 1;
        readIntoThen(offset, dest, (err) => {
          stats.inFlight -= 1;
          if (!err) stats.readBytes += dest.length;
          done(err);
        });
      }),
    write:
      write &&
      ((offset, data, fua) =>
        tracked(
          () => write(offset, data, fua),
          () => (stats.writeBytes += data.length),
        )),
    writeZeroes:
      writeZeroes &&
      ((offset, length) =>
        tracked(
          () => writeZeroes(offset, length),
          () => (stats.writeBytes += length),
        )),
    flush: inner.flush?.bind(inner),
    trim: inner.trim?.bind(inner),
    close: inner.close?.bind(inner),
  };
}
