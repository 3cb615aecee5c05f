// Reading a payload a D-Bus caller passes as a file descriptor (the credentials pipe, the JSON of
// generated media): secrets travel this way, never as a string argument on the bus. A sender may
// keep its write end open (a FIFO opened O_RDWR never reaches EOF), so reading stops when the
// message is complete, at the size limit or after a wait: never waiting for EOF and never
// blocking the event loop. Every chunk is zeroed once copied.
import { closeSync, fstatSync, readSync } from 'node:fs';
import net from 'node:net';
import { MountError } from '../errno.js';

export interface FdPayloadOptions {
  /** What the fd carries, for the messages ("credentials", "JSON"). */
  what: string;
  /** Reading stops after maxBytes + 1 bytes: the caller refuses anything longer. */
  maxBytes: number;
  /** Pipes and sockets: how long to wait for the rest of the message. */
  waitMs: number;
  /** Told each chunk as it arrives; true once the message is complete. */
  completes(chunk: Uint8Array): boolean;
}

/** Reads from fd (then closes it) up to maxBytes + 1 bytes. Rejects with MountError(EINVAL). */
export function readFdPayload(fd: number, opts: FdPayloadOptions): Promise<Uint8Array> {
  let stat;
  try {
    stat = fstatSync(fd);
  } catch (err) {
    return Promise.reject(new MountError('EINVAL', `bad ${opts.what} fd: ${(err as Error).message}`));
  }
  if (stat.isFile()) return Promise.resolve(readFileFd(fd, opts.maxBytes + 1));
  if (!stat.isFIFO() && !stat.isSocket()) {
    closeSync(fd);
    return Promise.reject(new MountError('EINVAL', `the ${opts.what} fd must be a pipe, FIFO, socket or file`));
  }
  return readStreamFd(fd, opts);
}

/** Regular files never block; read them synchronously. */
function readFileFd(fd: number, limit: number): Uint8Array {
  const buf = new Uint8Array(limit);
  try {
    let n = 0;
    for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0;) n += r;
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** Pipes and sockets: libuv reads them non-blocking; the socket owns (and closes) the fd. */
function readStreamFd(fd: number, opts: FdPayloadOptions): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const received = new Uint8Array(opts.maxBytes + 1);
    let length = 0;
    let stream: net.Socket;
    try {
      stream = new net.Socket({ fd, readable: true, writable: false });
    } catch (err) {
      // libuv streams only pipes and stream sockets: a datagram socket is refused and stays ours
      closeSync(fd);
      reject(new MountError('EINVAL', `cannot read the ${opts.what} fd: ${(err as Error).message}`));
      return;
    }
    const finish = () => {
      clearTimeout(timer);
      stream.destroy();
      resolve(received.subarray(0, length));
    };
    const timer = setTimeout(finish, opts.waitMs);
    stream.on('data', (chunk: Buffer) => {
      const taken = chunk.subarray(0, Math.min(chunk.length, received.length - length));
      received.set(taken, length);
      length += taken.length;
      const complete = opts.completes(taken);
      chunk.fill(0);
      // anything beyond the limit makes the message invalid either way
      if (complete || length >= received.length) finish();
    });
    stream.on('end', finish);
    stream.on('error', (err) => {
      clearTimeout(timer);
      stream.destroy();
      received.fill(0);
      reject(new MountError('EINVAL', `cannot read the ${opts.what} pipe: ${err.message}`));
    });
  });
}
