// Errors of a mount point carry an errno: it is what Completion(i) reports and what names the
// D-Bus error (System.Error.<NAME>, as sd-bus maps errnos), so every layer speaks one vocabulary.
import { constants } from 'node:os';

export type ErrnoName =
  | 'EPERM'
  | 'ENOENT'
  | 'EIO'
  | 'EBADF'
  | 'EACCES'
  | 'EBUSY'
  | 'EEXIST'
  | 'ENODEV'
  | 'EINVAL'
  | 'ENOSPC'
  | 'EROFS'
  | 'EPIPE'
  | 'ENOTSUP'
  | 'ECONNREFUSED'
  | 'ECONNRESET'
  | 'ECANCELED'
  | 'ETIMEDOUT'
  | 'EHOSTUNREACH'
  | 'ENETUNREACH'
  | 'EKEYREJECTED'
  | 'ENOMEDIUM'
  | 'EPROTO'
  | 'ENXIO'
  | 'E2BIG'
  | 'ENOEXEC'
  | 'ESPIPE'
  | 'ESRCH';

// Linux errnos that Node's os.constants.errno does not list (values from asm-generic/errno.h).
const NOT_IN_NODE: Partial<Record<ErrnoName, number>> = { ENOMEDIUM: 123, EKEYREJECTED: 129 };

export function errnoNumber(name: ErrnoName): number {
  const n = (constants.errno as Record<string, number>)[name] ?? NOT_IN_NODE[name];
  if (n === undefined) throw new Error(`unknown errno ${name}`);
  return n;
}

/** A failure with the errno a client sees and a message a person understands. */
export class MountError extends Error {
  constructor(
    readonly errno: ErrnoName,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MountError';
  }
  get code(): number {
    return errnoNumber(this.errno);
  }

  /** Anything thrown becomes a MountError: itself when it is one, else `errno` with its message. */
  static from(err: unknown, errno: ErrnoName = 'EIO'): MountError {
    if (err instanceof MountError) return err;
    return new MountError(errno, err instanceof Error ? err.message : String(err), { cause: err });
  }
}
