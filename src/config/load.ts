// Load and validate the daemon's config file. Every problem names the key path and the reason;
// the daemon refuses to start on any of them (docs/config.md).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { normalizeSourcesConfig, sourcesConfigProblems } from '../sources/config.js';
import type { RawConfig, RawSlotConfig } from './schema.js';
import { validate as generatedValidator } from './validate-raw-config.generated.js';
import type { HostBackendName, NbdQueueConfig, ServiceConfig, SlotConfig } from './types.js';

/** Linux sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

/**
 * The kernel's own values for an nbd device (read-ahead 128 KiB, requests of at most 128 KiB)
 * make the USB host's sequential reads reach the slot's NBD server as 128 KiB requests, one or two
 * at a time: every layer (page, bridge, daemon) pays per request, and over a network with latency
 * two requests in flight cap the rate. 4 MiB of read-ahead in 1 MiB requests: 8× fewer requests,
 * four in flight (docs/performance.md, "The kernel's request size").
 */
export const DEFAULT_NBD_QUEUE: NbdQueueConfig = { readAheadKiB: 4096, maxRequestKiB: 1024 };

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid config ${file}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** Replaces the config's RuntimeDir (e.g. `vmedia start --runtime-dir`). */
  runtimeDir?: string;
}

export function loadConfig(file: string, opts: LoadOptions = {}): ServiceConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, [`not valid JSON: ${(err as Error).message}`]);
  }
  return parseConfig(raw, path.dirname(path.resolve(file)), file, opts);
}

/** Validates a parsed config; a relative RuntimeDir resolves against baseDir, relative sockets and
 *  TrustStore against RuntimeDir (so `vmedia start --runtime-dir` moves all runtime state). */
export function parseConfig(raw: unknown, baseDir: string, file: string, opts: LoadOptions = {}): ServiceConfig {
  // the schema's validator compiled ahead by ajv (scripts/generate-config-validator.ts): ajv's
  // compiler at every start held ≈ 3.6 MiB of the idle daemon (docs/performance.md)
  const validate = generatedValidator as ValidateFunction<RawConfig>;
  if (!validate(raw)) {
    // an error inside propertyNames comes twice (the name's own pattern, then propertyNames): keep the second
    const errors = (validate.errors ?? []).filter((e) => e.propertyName === undefined);
    throw new ConfigError(file, errors.map(describeSchemaError));
  }
  const hostBackend: HostBackendName = raw.HostBackend ?? 'kernel';
  const runtimeDir = path.resolve(baseDir, opts.runtimeDir ?? raw.RuntimeDir ?? '/run/virtual-media');
  const slots = Object.entries(raw.MountPoints).map(([name, s]) => slotConfig(name, s, runtimeDir, hostBackend));
  const sources = normalizeSourcesConfig(raw.Sources);
  const problems = [...crossSlotProblems(slots), ...sourcesConfigProblems(sources)];
  if (problems.length > 0) throw new ConfigError(file, problems);
  return {
    inactivityTimeout: raw.InactivityTimeout ?? 1800,
    hostBackend,
    trustStore: raw.TrustStore === undefined ? undefined : path.resolve(runtimeDir, raw.TrustStore),
    allowPrivateSourceHosts: raw.AllowPrivateSourceHosts ?? false,
    nbdClient: { path: raw.NbdClient?.Path ?? 'nbd-client', args: raw.NbdClient?.Args },
    nbdQueue: {
      readAheadKiB: raw.NbdQueue?.ReadAheadKiB ?? DEFAULT_NBD_QUEUE.readAheadKiB,
      maxRequestKiB: raw.NbdQueue?.MaxRequestKiB ?? DEFAULT_NBD_QUEUE.maxRequestKiB,
    },
    sysRoot: raw.SysRoot ?? '/sys',
    devRoot: raw.DevRoot ?? '/dev',
    configfsRoot: raw.ConfigfsRoot ?? '/sys/kernel/config',
    runtimeDir,
    sources,
    slots,
  };
}

function slotConfig(name: string, s: RawSlotConfig, runtimeDir: string, backend: HostBackendName): SlotConfig {
  const exportSocket = s.ExportSocket ?? (backend === 'export' ? `export/${name}.sock` : undefined);
  return {
    name,
    mode: s.Mode === 0 ? 'proxy' : 'legacy',
    endpointId: s.EndpointId ?? '',
    nbdDevice: s.NBDDevice.replace(/^\/dev\//, ''),
    unixSocket: path.resolve(runtimeDir, s.UnixSocket),
    timeout: s.Timeout ?? 30,
    blockSize: s.BlockSize,
    mediaType: s.MediaType ?? 'USBStick',
    exportSocket: exportSocket === undefined ? undefined : path.resolve(runtimeDir, exportSocket),
    udc: s.UDC,
  };
}

function crossSlotProblems(slots: SlotConfig[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  const claim = (what: string, value: string | undefined, key: string) => {
    if (value === undefined) return;
    const owner = seen.get(`${what}\0${value}`);
    if (owner !== undefined) problems.push(`${key}: "${value}" is already used by ${owner}`);
    else seen.set(`${what}\0${value}`, key);
  };
  for (const slot of slots) {
    const at = `MountPoints.${slot.name}`;
    if (slot.mode === 'proxy' && !/^\/nbd\/\d+$/.test(slot.endpointId)) {
      // the web serves Proxy slots at /nbd/<n> only (as bmcweb does)
      problems.push(`${at}.EndpointId: a Proxy slot (Mode 0) needs the web endpoint /nbd/<n>, e.g. "/nbd/0"`);
    }
    claim('device', slot.nbdDevice, `${at}.NBDDevice`);
    if (slot.mode === 'proxy') claim('endpoint', slot.endpointId, `${at}.EndpointId`);
    for (const [key, socket] of [
      ['UnixSocket', slot.unixSocket],
      ['ExportSocket', slot.exportSocket],
    ] as const) {
      claim('socket', socket, `${at}.${key}`);
      if (socket !== undefined && Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
        problems.push(
          `${at}.${key}: "${socket}" is longer than the ${MAX_SOCKET_PATH} bytes a Unix socket path may have`,
        );
      }
    }
  }
  return problems;
}

function describeSchemaError(e: ErrorObject): string {
  const at = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const key = (parts: string[]) => (parts.length === 0 ? '(top level)' : parts.join('.'));
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${key([...at, String(params.additionalProperty)])}: unknown key`;
    case 'required':
      return `${key([...at, String(params.missingProperty)])}: required key is missing`;
    case 'propertyNames':
      return `${key([...at, String(params.propertyName)])}: slot names may only use letters, digits and _ (they become D-Bus path elements)`;
    case 'enum':
      return `${key(at)}: must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${key(at)}: ${e.message ?? e.keyword}`;
  }
}
