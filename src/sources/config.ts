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

export interface SourcesConfig {
  /** Follow HTTP redirects (off: a redirect is refused, so a URL cannot bounce to another host). */
  followRedirects: boolean;
  /** Seconds one HTTP request may take before it counts as failed. */
  requestTimeoutSeconds: number;
  /** Also trust the system's CA bundle, not only the TrustStore directory. */
  trustSystemCAs: boolean;
  retry: RetryConfig;
  cache: CacheConfig;
  /** Serve `.xz` / `.gz` images decompressed. */
  decompress: boolean;
  /** A writable Mount of a read-only source (HTTP) writes into a temporary overlay; off: EROFS. */
  copyOnWrite: boolean;
  /** Where the cache and copy-on-write overlays are kept (in a subdirectory vmedia-sources); default: the runtime dir. */
  tempDir?: string;
}

export const SOURCES_DEFAULTS: SourcesConfig = {
  followRedirects: false,
  requestTimeoutSeconds: 30,
  trustSystemCAs: false,
  retry: { retries: 5, delaySeconds: 1 },
  // measured (bench/legacy-https, 20 ms per request): 4 MiB blocks read 6x faster than no cache through
  // the whole chain; bigger blocks speed up large sequential reads but slow the host's small ones
  // (each is served out of a whole cached block) and make a random miss costlier
  cache: { enabled: true, blockSizeKiB: 4 * 1024, maxSizeMiB: 64 },
  decompress: true,
  copyOnWrite: true,
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
    Decompress: { type: 'boolean' },
    CopyOnWrite: { type: 'boolean' },
    TempDir: { type: 'string', minLength: 1, pattern: '^/' },
  },
} as const;

/** `raw` has passed sourcesConfigSchema; absent keys take the defaults. */
export function normalizeSourcesConfig(raw: Record<string, unknown> | undefined): SourcesConfig {
  const r = (raw ?? {}) as {
    FollowRedirects?: boolean; RequestTimeoutSeconds?: number; TrustSystemCAs?: boolean;
    Retry?: { Retries?: number; DelaySeconds?: number };
    Cache?: { Enabled?: boolean; BlockSizeKiB?: number; MaxSizeMiB?: number };
    Decompress?: boolean; CopyOnWrite?: boolean; TempDir?: string;
  };
  const d = SOURCES_DEFAULTS;
  const blockSizeKiB = r.Cache?.BlockSizeKiB ?? d.cache.blockSizeKiB;
  const maxSizeMiB = r.Cache?.MaxSizeMiB ?? d.cache.maxSizeMiB;
  if (maxSizeMiB * 1024 < 2 * blockSizeKiB) {
    throw new Error(`Sources.Cache.MaxSizeMiB (${maxSizeMiB}) must hold at least two blocks of Sources.Cache.BlockSizeKiB (${blockSizeKiB})`);
  }
  return {
    followRedirects: r.FollowRedirects ?? d.followRedirects,
    requestTimeoutSeconds: r.RequestTimeoutSeconds ?? d.requestTimeoutSeconds,
    trustSystemCAs: r.TrustSystemCAs ?? d.trustSystemCAs,
    retry: { retries: r.Retry?.Retries ?? d.retry.retries, delaySeconds: r.Retry?.DelaySeconds ?? d.retry.delaySeconds },
    cache: {
      enabled: r.Cache?.Enabled ?? d.cache.enabled,
      blockSizeKiB,
      maxSizeMiB,
    },
    decompress: r.Decompress ?? d.decompress,
    copyOnWrite: r.CopyOnWrite ?? d.copyOnWrite,
    ...(r.TempDir !== undefined ? { tempDir: r.TempDir } : {}),
  };
}
