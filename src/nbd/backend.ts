// What a server serves: a range of bytes with optional write-side operations. Errors carry an
// NBD errno so that the client sees a meaningful code (the spec allows only a few values).

export interface BlockBackend {
  /** Bytes. */
  readonly size: number;
  readonly readOnly: boolean;
  /** True when flush/FUA on one connection covers writes made through others (NBD_FLAG_CAN_MULTI_CONN). */
  readonly multiConn?: boolean;
  /** Request size that serves best (advertised as NBD_INFO_BLOCK_SIZE preferred; a power of 2). */
  readonly preferredBlockBytes?: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Fill dest from offset; lets the server read straight into its reply buffer (no copy). */
  readInto?(offset: number, dest: Uint8Array): Promise<void>;
  /**
   * readInto without a promise: `done` is called once, with the error when the read failed. For
   * a backend that is a relay (an NbdClient re-served), where promises per request were a
   * measurable part of the CPU per byte; the server prefers it to readInto.
   */
  readIntoThen?(offset: number, dest: Uint8Array, done: (err?: Error) => void): void;
  write?(offset: number, data: Uint8Array, fua: boolean): Promise<void>;
  flush?(): Promise<void>;
  trim?(offset: number, length: number): Promise<void>;
  writeZeroes?(offset: number, length: number): Promise<void>;
  close?(): Promise<void>;
}

/** The error values the NBD spec allows in replies. */
export const NBD_ERRNO = {
  EPERM: 1,
  EIO: 5,
  ENOMEM: 12,
  EINVAL: 22,
  ENOSPC: 28,
  EOVERFLOW: 75,
  ENOTSUP: 95,
  ESHUTDOWN: 108,
} as const;
export type NbdErrnoName = keyof typeof NBD_ERRNO;

export class NbdError extends Error {
  constructor(
    readonly code: NbdErrnoName,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'NbdError';
  }
  get errno(): number {
    return NBD_ERRNO[this.code];
  }
}

/** The name of an NBD error value (a number from a reply), or EIO for values the spec does not define. */
export function nbdErrnoName(value: number): NbdErrnoName {
  for (const [name, n] of Object.entries(NBD_ERRNO)) if (n === value) return name as NbdErrnoName;
  return 'EIO';
}

// System error codes (Node's err.code, named like errno) mapped to the NBD set, as the spec asks
// (EDQUOT and EFBIG → ENOSPC); anything else is an I/O error.
const SYSTEM_CODES: Readonly<Record<string, NbdErrnoName>> = {
  EPERM: 'EPERM',
  EACCES: 'EPERM',
  EROFS: 'EPERM',
  ENOSPC: 'ENOSPC',
  EDQUOT: 'ENOSPC',
  EFBIG: 'ENOSPC',
  ENOMEM: 'ENOMEM',
  EINVAL: 'EINVAL',
  EOVERFLOW: 'EOVERFLOW',
  ENOTSUP: 'ENOTSUP',
  EOPNOTSUPP: 'ENOTSUP',
};

/** The NBD errno to report for an error thrown by a backend. */
export function errnoOf(err: unknown): NbdErrnoName {
  if (err instanceof NbdError) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  return (typeof code === 'string' && SYSTEM_CODES[code]) || 'EIO';
}
