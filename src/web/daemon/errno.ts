// Completion(errno) numbers → their names and texts, for messages a person can act on.
import { getSystemErrorMap } from 'node:util';

export function describeErrno(errno: number): { name: string; text: string } {
  const entry = getSystemErrorMap().get(-Math.abs(errno));
  return entry ? { name: entry[0], text: entry[1] } : { name: `errno ${errno}`, text: 'unknown error' };
}
