// A file served as an NBD export: positional reads and writes on one descriptor, never the
// whole file in memory. One descriptor for all connections, so flush covers every writer.
// Reads are synchronous preads straight into the server's reply buffer: from the page cache
// they take microseconds, less than a round trip through libuv's thread pool (which doubled
// 4 KiB read latency and halved nbdcopy throughput in bench/nbd-server); the cost is that a
// read from a cold disk holds the event loop for that one disk access.
import fs from 'node:fs';
import { promisify } from 'node:util';
import { NbdError, type BlockBackend } from '../nbd/backend.js';

const pwrite = promisify(fs.write);
const fdatasync = promisify(fs.fdatasync);
const fclose = promisify(fs.close);

export async function openFileBackend(path: string, opts: { readOnly: boolean }): Promise<BlockBackend> {
  const fd = await promisify(fs.open)(path, opts.readOnly ? 'r' : 'r+');
  try {
    const st = await promisify(fs.fstat)(fd);
    if (!st.isFile()) throw new Error(`${path} is not a regular file`);
    return fileBackend(fd, st.size, opts.readOnly, path);
  } catch (err) {
    await fclose(fd);
    throw err;
  }
}

function fileBackend(fd: number, size: number, readOnly: boolean, path: string): BlockBackend {
  function readIntoSync(offset: number, dest: Uint8Array): void {
    for (let done = 0; done < dest.length;) {
      const bytesRead = fs.readSync(fd, dest, done, dest.length - done, offset + done);
      if (bytesRead === 0)
        throw new NbdError('EIO', `${path} ended at ${offset + done}, before the ${size} bytes it had when opened`);
      done += bytesRead;
    }
  }
  return {
    size,
    readOnly,
    multiConn: true,
    async readInto(offset, dest) {
      readIntoSync(offset, dest);
    },
    async read(offset, length) {
      const buf = Buffer.allocUnsafe(length);
      readIntoSync(offset, buf);
      return buf;
    },
    async write(offset, data, fua) {
      if (readOnly) throw new NbdError('EPERM', `${path} is served read-only`);
      for (let done = 0; done < data.length;) {
        const { bytesWritten } = await pwrite(fd, data, done, data.length - done, offset + done);
        done += bytesWritten;
      }
      if (fua) await fdatasync(fd);
    },
    async flush() {
      if (!readOnly) await fdatasync(fd);
    },
    async close() {
      await fclose(fd);
    },
  };
}
