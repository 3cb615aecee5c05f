// The JSON schema of /etc/virtual-media.json: OpenBMC's keys (compat) plus ours (docs/config.md).
// Unknown keys are refused everywhere, so a typo never silently falls back to a default.
import { sourcesConfigSchema } from '../sources/config.js';

const slotSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['Mode', 'NBDDevice', 'UnixSocket'],
  properties: {
    EndpointId: { type: 'string' },
    Mode: { enum: [0, 1] },
    NBDDevice: { type: 'string', pattern: '^(/dev/)?nbd[0-9]+$' },
    UnixSocket: { type: 'string', minLength: 1 },
    Timeout: { type: 'integer', minimum: 1, maximum: 3600 },
    BlockSize: { enum: [512, 1024, 2048, 4096] },
    ExportSocket: { type: 'string', minLength: 1 },
    MediaType: { enum: ['CD', 'USBStick'] },
    UDC: { type: 'string', minLength: 1 },
  },
} as const;

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['MountPoints'],
  properties: {
    InactivityTimeout: { type: 'integer', minimum: 0 },
    MountPoints: {
      type: 'object',
      minProperties: 1,
      // the slot name becomes a D-Bus object path element
      propertyNames: { pattern: '^[A-Za-z0-9_]+$' },
      additionalProperties: slotSchema,
    },
    HostBackend: { enum: ['kernel', 'export'] },
    TrustStore: { type: 'string', minLength: 1 },
    AllowPrivateSourceHosts: { type: 'boolean' },
    NbdClient: {
      type: 'object',
      additionalProperties: false,
      properties: {
        Path: { type: 'string', minLength: 1 },
        Args: { type: 'array', items: { type: 'string' } },
      },
    },
    NbdQueue: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ReadAheadKiB: { type: 'integer', minimum: 0, maximum: 65536 },
        // the kernel refuses less than a page; nbd devices take up to 32 MiB
        MaxRequestKiB: { type: 'integer', minimum: 4, maximum: 32768 },
      },
    },
    RuntimeDir: { type: 'string', minLength: 1 },
    SysRoot: { type: 'string', minLength: 1 },
    DevRoot: { type: 'string', minLength: 1 },
    ConfigfsRoot: { type: 'string', minLength: 1 },
    Sources: sourcesConfigSchema,
  },
} as const;

/** The config file as written, after schema validation. */
export interface RawSlotConfig {
  EndpointId?: string;
  Mode: 0 | 1;
  NBDDevice: string;
  UnixSocket: string;
  Timeout?: number;
  BlockSize?: number;
  ExportSocket?: string;
  MediaType?: 'CD' | 'USBStick';
  UDC?: string;
}

export interface RawConfig {
  InactivityTimeout?: number;
  MountPoints: Record<string, RawSlotConfig>;
  HostBackend?: 'kernel' | 'export';
  TrustStore?: string;
  AllowPrivateSourceHosts?: boolean;
  NbdClient?: { Path?: string; Args?: string[] };
  NbdQueue?: { ReadAheadKiB?: number; MaxRequestKiB?: number };
  RuntimeDir?: string;
  SysRoot?: string;
  DevRoot?: string;
  ConfigfsRoot?: string;
  Sources?: Record<string, unknown>;
}
