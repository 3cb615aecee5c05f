// The Legacy Mount credentials pipe (docs/dbus.md): the fd carries `user\0password\0`, each
// part ≤ 512 bytes, exactly two NULs, at most 1024 bytes read. A sender may keep its write end
// open (a FIFO opened O_RDWR never reaches EOF), so reading stops at a complete message, at the
// size limit or after a short wait — never waiting for EOF and never blocking the event loop.
import { closeSync, fstatSync, readSync } from 'node:fs';
import net from 'node:net';
import { MountError } from '../errno.js';
import type { Credentials } from '../sources/types.js';
import { MAX_CREDENTIAL_PART_BYTES } from '../contract.js';

export const MAX_CREDENTIALS_BYTES = 1024;

/** Reads and parses the credentials on fd, then closes fd. Rejects with MountError(EINVAL). */
export async function readCredentials(fd: number, waitMs = 2000): Promise<Credentials> {
  const bytes = await readUpTo(fd, waitMs);
  try {
    return parseCredentials(bytes);
  } finally {
    bytes.fill(0);
  }
}

/** Splits `user\0password\0`; the password is copied so the caller can zero it independently. */
export function parseCredentials(bytes: Uint8Array): Credentials {
  const invalid = (why: string) => new MountError('EINVAL', `bad credentials pipe: ${why}`);
  if (bytes.length > MAX_CREDENTIALS_BYTES) throw invalid(`more than ${MAX_CREDENTIALS_BYTES} bytes`);
  const nuls = bytes.reduce((n, b) => n + (b === 0 ? 1 : 0), 0);
  if (nuls !== 2 || bytes[bytes.length - 1] !== 0) {
    throw invalid('expected "user\\0password\\0" (exactly two NUL bytes, the last byte a NUL)');
  }
  const split = bytes.indexOf(0);
  const userBytes = bytes.subarray(0, split);
  const password = bytes.slice(split + 1, bytes.length - 1);
  if (userBytes.length > MAX_CREDENTIAL_PART_BYTES || password.length > MAX_CREDENTIAL_PART_BYTES) {
    password.fill(0);
    throw invalid(`user and password may have at most ${MAX_CREDENTIAL_PART_BYTES} bytes each`);
  }
  let user: string;
  try {
    user = new TextDecoder('utf-8', { fatal: true }).decode(userBytes);
  } catch {
    password.fill(0);
    throw invalid('the user name is not UTF-8');
  }
  return { user, password };
}

function readUpTo(fd: number, waitMs: number): Promise<Uint8Array> {
  let stat;
  try {
    stat = fstatSync(fd);
  } catch (err) {
    return Promise.reject(new MountError('EINVAL', `bad credentials fd: ${(err as Error).message}`));
  }
  if (stat.isFile()) return Promise.resolve(readFileFd(fd));
  if (!stat.isFIFO() && !stat.isSocket()) {
    closeSync(fd);
    return Promise.reject(new MountError('EINVAL', 'the credentials fd must be a pipe, FIFO, socket or file'));
  }
  return readStreamFd(fd, waitMs);
}

/** Regular files never block; read them synchronously. */
function readFileFd(fd: number): Uint8Array {
  const buf = new Uint8Array(MAX_CREDENTIALS_BYTES + 1);
  try {
    let n = 0;
    for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0;) n += r;
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** Pipes and sockets: libuv reads them non-blocking; the socket owns (and closes) the fd. */
function readStreamFd(fd: number, waitMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const received = new Uint8Array(MAX_CREDENTIALS_BYTES + 1);
    let length = 0;
    let nuls = 0;
    let stream: net.Socket;
    try {
      stream = new net.Socket({ fd, readable: true, writable: false });
    } catch (err) {
      // libuv streams only pipes and stream sockets: a datagram socket is refused and stays ours
      closeSync(fd);
      reject(new MountError('EINVAL', `cannot read the credentials fd: ${(err as Error).message}`));
      return;
    }
    const finish = () => {
      clearTimeout(timer);
      stream.destroy();
      resolve(received.subarray(0, length));
    };
    const timer = setTimeout(finish, waitMs);
    stream.on('data', (chunk: Buffer) => {
      const take = Math.min(chunk.length, received.length - length);
      received.set(chunk.subarray(0, take), length);
      for (let i = 0; i < take; i++) if (chunk[i] === 0) nuls++;
      length += take;
      chunk.fill(0);
      // two NULs make a complete message; anything beyond the limit makes it invalid either way
      if (nuls >= 2 || length >= received.length) finish();
    });
    stream.on('end', finish);
    stream.on('error', (err) => {
      clearTimeout(timer);
      stream.destroy();
      received.fill(0);
      reject(new MountError('EINVAL', `cannot read the credentials pipe: ${err.message}`));
    });
  });
}
