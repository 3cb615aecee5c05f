// Credentials from the Mount pipe on their way to nbdkit: checked for what HTTP basic auth and
// nbdkit's password reader can carry, and turned into the line nbdkit reads from its fd 3.
import type { Credentials } from '../types.js';
import { MountError } from '../../errno.js';
import { MAX_CREDENTIAL_PART_BYTES } from '../../contract.js';

const NEWLINE = 0x0a;

/** Throws EINVAL for credentials that cannot reach the server intact. */
export function checkCredentials(creds: Credentials): void {
  if (Buffer.byteLength(creds.user) > MAX_CREDENTIAL_PART_BYTES)
    throw new MountError('EINVAL', `the user name is longer than ${MAX_CREDENTIAL_PART_BYTES} bytes`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(creds.user)) throw new MountError('EINVAL', 'the user name contains control characters');
  if (creds.user.includes(':'))
    throw new MountError('EINVAL', 'the user name contains ":", which HTTP basic auth cannot carry');
  if (creds.password.length > MAX_CREDENTIAL_PART_BYTES)
    throw new MountError('EINVAL', `the password is longer than ${MAX_CREDENTIAL_PART_BYTES} bytes`);
  // nbdkit reads the password up to the first line break
  if (creds.password.some((b) => b === NEWLINE || b === 0x0d || b === 0)) {
    throw new MountError('EINVAL', 'the password contains a line break or NUL, which nbdkit cannot pass on');
  }
}

/** A new buffer "password\n" for nbdkit's `password=-FD` (the caller zeroes it after writing). */
export function secretLine(creds: Credentials): Uint8Array {
  const line = new Uint8Array(creds.password.length + 1);
  line.set(creds.password);
  line[creds.password.length] = NEWLINE;
  return line;
}
