// How a Legacy image gets served as NBD on a slot's Unix socket. The mount point state machine
// knows sources only through this interface; the daemon's composition root builds the provider.
import type { MountError } from '../errno.js';
import type { SlotConfig } from '../config/types.js';

export interface Credentials {
  user: string;
  /** Bytes, so the caller can zero them after use. */
  password: Uint8Array;
}

/** An image the daemon built itself (generated media): served from memory, not fetched. */
export interface GeneratedImage {
  bytes: Uint8Array;
  /** Called once when the host has read every byte (auto-eject when asked). */
  onFullyRead?: () => void;
}

export interface SourceRequest {
  slot: SlotConfig;
  /** The URL exactly as the client gave it (validated by the provider); "" with `generated`. */
  url: string;
  /** Serve these bytes instead of fetching `url`. */
  generated?: GeneratedImage;
  writable: boolean;
  credentials?: Credentials;
  /** Where to serve NBD; the provider creates it and removes it on stop. */
  socket: string;
}

export interface RunningSource {
  /** Stops serving and removes everything the source created (process, socket, temp files, mounts). Idempotent. */
  stop(): Promise<void>;
}

export interface SourceProvider {
  /** URL schemes this provider can serve now (e.g. ["https", "http"]): Redfish advertises exactly these. */
  schemes(): string[];
  /**
   * Resolves when an NBD server accepts connections on req.socket. Rejects with a MountError
   * (EINVAL for a bad or unsupported URL, ECANCELED when a process cannot be spawned, ...) after
   * cleaning up. `onExit` is called at most once, after start resolved, if the source dies.
   */
  start(req: SourceRequest, onExit: (err: MountError) => void): Promise<RunningSource>;
  /** Stops background work (trust store watcher); running sources are stopped first by the caller. */
  close(): Promise<void>;
}
