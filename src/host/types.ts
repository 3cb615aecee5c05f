// How the image served on a slot's Unix socket reaches the host. The mount point state machine
// knows backends only through this interface; the daemon's composition root picks one.
import type { MountError } from '../errno.js';
import type { MediaType, SlotConfig } from '../config/types.js';

export interface HostAttachRequest {
  slot: SlotConfig;
  /** Unix socket where an NBD server (nbdkit or the web bridge) serves the image. */
  socket: string;
  writable: boolean;
  mediaType: MediaType;
}

export interface HostStats {
  /** Bytes the host has read / written since the attach. */
  readBytes: number;
  writeBytes: number;
  /** The host's requests in progress now: a host waiting on a slow source is not idle. */
  inFlight: number;
}

export interface HostAttachment {
  stats(): HostStats;
  /** Tears everything down in reverse order; resolves when the device is gone and every
   *  process has exited. Safe to call more than once. */
  detach(): Promise<void>;
}

export interface HostBackend {
  readonly name: string;
  /** Removes what an earlier run of the daemon left behind for these slots. */
  cleanupStale(slots: readonly SlotConfig[]): Promise<void>;
  /**
   * Resolves once the host sees the media (kernel: nbd device has a size and the gadget is
   * bound; export: the NBD handshake gave a size). Rejects with a MountError after undoing
   * whatever it had set up. `onLost` is called at most once, after the attach resolved, when
   * the media goes away without detach() being asked (device vanished, a process exited).
   */
  attach(req: HostAttachRequest, onLost: (err: MountError) => void): Promise<HostAttachment>;
  /** Stops background watchers (udev monitor); attachments must be detached first. */
  close(): Promise<void>;
}
