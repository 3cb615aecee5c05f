// The daemon's configuration after loading and validation (src/config/load.ts): the JSON of
// /etc/virtual-media.json (OpenBMC's keys plus ours, docs/config.md) with defaults applied.
import type { SourcesConfig } from '../sources/config.js';

export type HostBackendName = 'kernel' | 'export';
export type MediaType = 'CD' | 'USBStick';
export type SlotMode = 'proxy' | 'legacy';

export interface SlotConfig {
  /** The key in MountPoints, e.g. "Slot_0"; also the last element of the D-Bus path. */
  name: string;
  mode: SlotMode;
  /** "/nbd/0" for Proxy slots, "" for Legacy. */
  endpointId: string;
  /** Kernel device name without /dev, e.g. "nbd0". */
  nbdDevice: string;
  /** Where the slot's NBD server (web bridge or nbdkit) listens. */
  unixSocket: string;
  /** Seconds: nbd-client timeout; the Completion timer is Timeout + 5 s. */
  timeout: number;
  /** BlockSize of OpenBMC's config: the block size nbd-client gives the kernel (-b). */
  blockSize?: number;
  mediaType: MediaType;
  /** Export backend: where the slot's image is re-served as an NBD export. */
  exportSocket?: string;
  /** Kernel backend: pin this USB device controller instead of picking a free one. */
  udc?: string;
}

export interface NbdClientConfig {
  path: string;
  /** Replaces the default flags after the device (["-n", "-L"]). */
  args?: string[];
}

/** Kernel backend: the request sizes of /dev/nbdN's block queue, set before the gadget opens it. */
export interface NbdQueueConfig {
  /** queue/read_ahead_kb: how far the kernel reads ahead of the host's sequential reads. */
  readAheadKiB: number;
  /** queue/max_sectors_kb: the longest NBD read the kernel sends (lowered to what the device allows). */
  maxRequestKiB: number;
}

export interface ServiceConfig {
  /** Seconds without IO before an Active slot is ejected; 0 = never. */
  inactivityTimeout: number;
  hostBackend: HostBackendName;
  /** Directory of CA PEM files trusted for HTTPS sources. */
  trustStore?: string;
  allowPrivateSourceHosts: boolean;
  nbdClient: NbdClientConfig;
  nbdQueue: NbdQueueConfig;
  /** Root paths of the kernel interfaces, parameters so tests can point them at a temp tree. */
  sysRoot: string;
  devRoot: string;
  configfsRoot: string;
  /** Where the daemon keeps per-slot runtime state (credential files, CIFS/NFS mounts). */
  runtimeDir: string;
  /** The `Sources` block: how Legacy images are fetched (owned by src/sources). */
  sources: SourcesConfig;
  slots: SlotConfig[];
}
