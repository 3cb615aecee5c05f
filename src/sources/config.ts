// The `Sources` block of the config: how Legacy images are fetched (filters, redirects, ...).
// The config loader (src/config) embeds this schema and calls normalizeSourcesConfig.
// Every key is optional; the defaults are what an operator wants on a BMC.

export interface RetryConfig {
  /** Reopen the source this many times after a network error or a server restart; 0 = off. */
  retries: number;
  /** Seconds before the first retry; doubles on each further one. */
  delaySeconds: number;
}

export interface CacheConfig {
  enabled: boolean;
  /** Each miss fetches at least this much (one HTTP range request), so sequential reads are fast. */
  blockSizeKiB: number;
  /** Upper bound of the cache file (it lives in TempDir). */
  maxSizeMiB: number;
}

export interface ReadaheadConfig {
  enabled: boolean;
  /** Each upstream read (one HTTP range request) is an aligned chunk of this size. */
  chunkKiB: number;
  /** Chunks fetched ahead of a sequential reader; twice as many are kept for re-reads. */
  aheadChunks: number;
  /** Connections to nbdkit, so that chunks are fetched in parallel. */
  connections: number;
}

export interface SourcesConfig {
  /** Follow HTTP redirects (off: a redirect is refused, so a URL cannot bounce to another host). */
  followRedirects: boolean;
  /** Seconds one HTTP request may take before it counts as failed. */
  requestTimeoutSeconds: number;
  /** Also trust the system's CA bundle, not only the TrustStore directory. */
  trustSystemCAs: boolean;
  retry: RetryConfig;
  /** nbdkit's cache filter; off by default: the read-ahead does its job without its costs. */
  cache: CacheConfig;
  /** Our read-ahead in front of a network source (the memory it holds: 2 × AheadChunks × ChunkKiB). */
  readahead: ReadaheadConfig;
  /** Serve `.xz` / `.gz` images decompressed. */
  decompress: boolean;
  /** A writable Mount of a read-only source (HTTP) writes into a temporary overlay; off: EROFS. */
  copyOnWrite: boolean;
  /** Where the cache and copy-on-write overlays are kept (in a subdirectory vmedia-sources); default: the runtime dir. */
  tempDir?: string;
  /** known_hosts file that an sftp:// server's host key must be listed in (no trust on first use). */
  sshKnownHosts: string;
}

export const SOURCES_DEFAULTS: SourcesConfig = {
  followRedirects: false,
  requestTimeoutSeconds: 30,
  trustSystemCAs: false,
  retry: { retries: 5, delaySeconds: 1 },
  // measured (bench/legacy-https, 20 ms per request): the cache filter copies a whole block for
  // each of the host's reads (4 MiB blocks: 213 MiB/s for 128 KiB reads of a local file, 16 MiB:
  // 56) and serializes all connections; the read-ahead has neither cost
  cache: { enabled: false, blockSizeKiB: 4 * 1024, maxSizeMiB: 64 },
  readahead: { enabled: true, chunkKiB: 2 * 1024, aheadChunks: 8, connections: 4 },
  decompress: true,
  copyOnWrite: true,
  sshKnownHosts: '/etc/ssh/ssh_known_hosts',
};

const positiveInt = (maximum: number) => ({ type: 'integer', minimum: 1, maximum }) as const;

export const sourcesConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    FollowRedirects: { type: 'boolean' },
    RequestTimeoutSeconds: positiveInt(3600),
    TrustSystemCAs: { type: 'boolean' },
    Retry: {
      type: 'object',
      additionalProperties: false,
      properties: {
        Retries: { type: 'integer', minimum: 0, maximum: 100 },
        DelaySeconds: positiveInt(600),
      },
    },
    Cache: {
      type: 'object',
      additionalProperties: false,
      properties: {
        Enabled: { type: 'boolean' },
        // nbdkit advertises it as the preferred block size; nbdcopy refuses more than 32 MiB
        BlockSizeKiB: positiveInt(32 * 1024),
        MaxSizeMiB: positiveInt(1024 * 1024),
      },
    },
    Readahead: {
      type: 'object',
      additionalProperties: false,
      properties: {
        Enabled: { type: 'boolean' },
        ChunkKiB: positiveInt(32 * 1024),
        AheadChunks: positiveInt(256),
        Connections: positiveInt(16),
      },
    },
    Decompress: { type: 'boolean' },
    CopyOnWrite: { type: 'boolean' },
    TempDir: { type: 'string', minLength: 1, pattern: '^/' },
    // libssh expands %-sequences in this path: refuse them rather than read another file
    SshKnownHosts: { type: 'string', minLength: 1, pattern: '^/[^%]*$' },
  },
} as const;

/** What the schema cannot say about a Sources block: each problem names its key path. */
export function sourcesConfigProblems(sources: SourcesConfig): string[] {
  const { blockSizeKiB, maxSizeMiB } = sources.cache;
  if (maxSizeMiB * 1024 >= 2 * blockSizeKiB) return [];
  return [
    `Sources.Cache.MaxSizeMiB: ${maxSizeMiB} must hold at least two blocks of Sources.Cache.BlockSizeKiB (${blockSizeKiB})`,
  ];
}

/** `raw` has passed sourcesConfigSchema; absent keys take the defaults. */
export function normalizeSourcesConfig(raw: Record<string, unknown> | undefined): SourcesConfig {
  const r = (raw ?? {}) as {
    FollowRedirects?: boolean;
    RequestTimeoutSeconds?: number;
    TrustSystemCAs?: boolean;
    Retry?: { Retries?: number; DelaySeconds?: number };
    Cache?: { Enabled?: boolean; BlockSizeKiB?: number; MaxSizeMiB?: number };
    Readahead?: { Enabled?: boolean; ChunkKiB?: number; AheadChunks?: number; Connections?: number };
    Decompress?: boolean;
    CopyOnWrite?: boolean;
    TempDir?: string;
    SshKnownHosts?: string;
  };
  const d = SOURCES_DEFAULTS;
  const blockSizeKiB = r.Cache?.BlockSizeKiB ?? d.cache.blockSizeKiB;
  const maxSizeMiB = r.Cache?.MaxSizeMiB ?? d.cache.maxSizeMiB;
  return {
    followRedirects: r.FollowRedirects ?? d.followRedirects,
    requestTimeoutSeconds: r.RequestTimeoutSeconds ?? d.requestTimeoutSeconds,
    trustSystemCAs: r.TrustSystemCAs ?? d.trustSystemCAs,
    retry: {
      retries: r.Retry?.Retries ?? d.retry.retries,
      delaySeconds: r.Retry?.DelaySeconds ?? d.retry.delaySeconds,
    },
    cache: {
      enabled: r.Cache?.Enabled ?? d.cache.enabled,
      blockSizeKiB,
      maxSizeMiB,
    },
    readahead: {
      enabled: r.Readahead?.Enabled ?? d.readahead.enabled,
      chunkKiB: r.Readahead?.ChunkKiB ?? d.readahead.chunkKiB,
      aheadChunks: r.Readahead?.AheadChunks ?? d.readahead.aheadChunks,
      connections: r.Readahead?.Connections ?? d.readahead.connections,
    },
    decompress: r.Decompress ?? d.decompress,
    copyOnWrite: r.CopyOnWrite ?? d.copyOnWrite,
    ...(r.TempDir !== undefined ? { tempDir: r.TempDir } : {}),
    sshKnownHosts: r.SshKnownHosts ?? d.sshKnownHosts,
  };
}
