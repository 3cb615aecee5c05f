// What a mount point shows (the D-Bus properties that change) and what a Mount asks for.
import type { ErrnoName } from '../errno.js';
import type { Credentials, GeneratedImage } from '../sources/types.js';

export type StateName = 'Ready' | 'Activating' | 'Active' | 'Deactivating';

export interface MountRequest {
  /** Legacy: the image URL; Proxy: "" (the image comes from the web bridge on the slot socket). */
  url: string;
  writable: boolean;
  /** Legacy only; the mount point zeroes the password once the source has started. */
  credentials?: Credentials;
  /** Legacy only: an image the daemon built (generated media), served instead of `url` (""). */
  generated?: GeneratedImage;
}

/** The mount point's changing state, as MountPoint/Process/Stats properties show it. */
export interface MountPointStatus {
  imageUrl: string;
  writeProtected: boolean;
  active: boolean;
  /** -1 while a mount is in progress or up; afterwards the last Completion value. */
  exitCode: number;
  remainingInactivityTimeout: number;
  readBytes: bigint;
  writeBytes: bigint;
}

/** 0 = success, else the errno the operation failed with. */
export type CompletionResult = 0 | ErrnoName;
