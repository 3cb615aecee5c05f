// The Legacy Mount credentials pipe (docs/dbus.md): the fd carries `user\0password\0`, each
// part ≤ 512 bytes, exactly two NULs, at most 1024 bytes read; the message is complete at the
// second NUL (fd-payload.ts reads it).
import { MountError } from '../errno.js';
import type { Credentials } from '../sources/types.js';
import { MAX_CREDENTIAL_PART_BYTES } from '../contract.js';
import { readFdPayload } from './fd-payload.js';

export const MAX_CREDENTIALS_BYTES = 1024;

/** Reads and parses the credentials on fd, then closes fd. Rejects with MountError(EINVAL). */
export async function readCredentials(fd: number, waitMs = 2000): Promise<Credentials> {
  let nuls = 0;
  const bytes = await readFdPayload(fd, {
    what: 'credentials',
    maxBytes: MAX_CREDENTIALS_BYTES,
    waitMs,
    completes(chunk) {
      for (const b of chunk) if (b === 0) nuls++;
      return nuls >= 2;
    },
  });
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
