// Naming why an nbdkit plugin failed from what it wrote to stderr (the plugin and its library name
// the cause there and nowhere else): each source lists its causes, this finds the one that applies.
import { MountError, type ErrnoName } from '../../errno.js';

export interface StderrCause<Ctx> {
  test: RegExp;
  errno: ErrnoName;
  message: (match: RegExpMatchArray, ctx: Ctx) => string;
}

/** The first of `causes` (they are ordered) that an error line names, latest line first: the
 *  latest error is the one that made the operation fail. Undefined when nothing is recognised. */
export function causeInStderr<Ctx>(
  stderr: string,
  causes: readonly StderrCause<Ctx>[],
  ctx: Ctx,
): MountError | undefined {
  for (const line of stderr
    .split('\n')
    .filter((l) => /error/i.test(l))
    .reverse()) {
    for (const cause of causes) {
      const m = line.match(cause.test);
      if (m) return new MountError(cause.errno, cause.message(m, ctx));
    }
  }
  return undefined;
}
