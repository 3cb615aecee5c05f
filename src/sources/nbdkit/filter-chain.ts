// The nbdkit filters stacked over a network plugin (curl, ssh), outermost first:
//   cow          a writable Mount of a read-only source: the host's writes go to a temp overlay
//   xz | gzip    compressed images (by file suffix) are served decompressed
//   cache        each miss fetches a large block, so the host's small sequential reads are fast
//   retry        a network error or server restart reopens the plugin instead of failing the read
// cache and retry only over network plugins (a kernel mount caches and retries itself). Each is
// skipped when configured off or when the installed nbdkit lacks it.
import type { SourcesConfig } from '../config.js';
import { MountError } from '../../errno.js';

export interface FilterChainInput {
  sources: SourcesConfig;
  /** Filters that load on this machine. */
  available: ReadonlySet<string>;
  /** URL path of the image (decides decompression). */
  pathname: string;
  /** The Mount asked for write access. */
  writable: boolean;
  /** What the plugin under the filters is: a network source wants cache and retry; a source
   *  that takes writes itself (a read-write CIFS share) needs no overlay. */
  plugin: { network: boolean; writable: boolean };
}

export interface FilterChain {
  /** `--filter=...` options followed by nothing: the plugin comes next. */
  filters: string[];
  /** The filters' key=value parameters (go after the plugin's). */
  params: string[];
  /** Whether nbdkit must run --readonly (the Mount is read-only). */
  readOnly: boolean;
}

export function buildFilterChain(input: FilterChainInput): FilterChain {
  const { sources, available, pathname, writable, plugin } = input;
  const filters: string[] = [];
  const params: string[] = [];
  const use = (name: string, ...p: string[]) => {
    filters.push(`--filter=${name}`);
    params.push(...p);
  };
  const need = (name: string, why: string) => {
    if (!available.has(name))
      throw new MountError('ENOTSUP', `${why} needs nbdkit's ${name} filter, which is not installed`);
  };

  if (writable && !plugin.writable) {
    if (!sources.copyOnWrite)
      throw new MountError('EROFS', 'this source is read-only and CopyOnWrite is off: mount it read-only');
    need('cow', 'a writable mount of a read-only source');
    use('cow');
  }
  const lower = pathname.toLowerCase();
  if (sources.decompress && lower.endsWith('.xz')) {
    need('xz', 'an .xz image');
    use('xz');
  } else if (sources.decompress && lower.endsWith('.gz')) {
    need('gzip', 'a .gz image');
    use('gzip');
  }
  if (plugin.network && sources.cache.enabled && available.has('cache')) {
    use(
      'cache',
      'cache-on-read=true',
      `cache-min-block-size=${sources.cache.blockSizeKiB}K`,
      `cache-max-size=${sources.cache.maxSizeMiB}M`,
    );
  }
  if (plugin.network && sources.retry.retries > 0 && available.has('retry')) {
    use('retry', `retries=${sources.retry.retries}`, `retry-delay=${sources.retry.delaySeconds}`);
  }
  return { filters, params, readOnly: !writable };
}
