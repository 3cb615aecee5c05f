// Completion(errno) numbers → their names and texts, for messages a person can act on.
import { getSystemErrorMap } from 'node:util';
import { errnoNumber, type ErrnoName } from '../../errno.js';

/** Errnos the daemon reports that libuv (so Node's error map) does not know, with strerror's text. */
const LINUX_ONLY: Partial<Record<ErrnoName, string>> = {
  EKEYREJECTED: 'key was rejected by service (an untrusted TLS certificate)',
  ENOMEDIUM: 'no medium found',
};

export function describeErrno(errno: number): { name: string; text: string } {
  const entry = getSystemErrorMap().get(-Math.abs(errno));
  if (entry) return { name: entry[0], text: entry[1] };
  for (const [name, text] of Object.entries(LINUX_ONLY)) {
    if (errnoNumber(name as ErrnoName) === errno) return { name, text: text };
  }
  return { name: `errno ${errno}`, text: 'unknown error' };
}

/** "ECONNREFUSED (connection refused)" */
export function errnoText(errno: number): string {
  const { name, text } = describeErrno(errno);
  return `${name} (${text})`;
}
