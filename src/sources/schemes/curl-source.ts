// https://, http:// and ftp:// images: nbdkit's curl plugin serves ranged reads of the URL (never
// a full download), under the filter chain (retry, cache, decompression, copy-on-write).
import type { RunningSource } from '../types.js';
import type { MountError } from '../../errno.js';
import { buildFilterChain } from '../nbdkit/filter-chain.js';
import { classifyCurlFailure } from './curl-errors.js';
import { diagnoseRedirect } from '../guards/redirect-check.js';
import { secretLine } from '../guards/credentials.js';
import { serveWithNbdkit, type SourceContext } from '../nbdkit/source.js';

/** The protocols curl may use for each scheme (redirect targets included). */
const PROTOCOLS: Record<string, string> = { https: 'https', http: 'http,https', ftp: 'ftp' };

export interface CurlSourceContext extends SourceContext {
  /** curl's capath (hashed CA directory), when a TrustStore is configured. */
  capath?: string;
}

export async function startCurlSource(
  ctx: CurlSourceContext,
  onExit: (err: MountError) => void,
): Promise<RunningSource> {
  const { sources, url, req } = ctx;
  const chain = buildFilterChain({
    sources: sources.config,
    available: ctx.filters,
    pathname: url.url.pathname,
    writable: req.writable,
    plugin: { network: true, writable: false },
  });
  const tls = [
    'ssl-version=tlsv1.2',
    ...(ctx.capath ? [`capath=${ctx.capath}`] : []),
    // an empty cainfo drops the system bundle: only the TrustStore's CAs count
    ...(ctx.capath && !sources.config.trustSystemCAs ? ['cainfo='] : []),
  ];
  const args = [
    ...chain.filters,
    'curl',
    `url=${url.url.href}`,
    `followlocation=${sources.config.followRedirects}`,
    // a redirect may not switch to another protocol (file://, gopher://, ...) nor downgrade https
    `protocols=${PROTOCOLS[url.scheme] ?? url.scheme}`,
    ...(url.scheme === 'https' ? tls : []),
    `timeout=${sources.config.requestTimeoutSeconds}`,
    ...(req.credentials ? [`user=${req.credentials.user}`, 'password=-3'] : []),
    ...chain.params,
  ];
  return serveWithNbdkit(
    ctx,
    {
      args,
      readOnly: chain.readOnly,
      network: true,
      secret: req.credentials ? secretLine(req.credentials) : undefined,
      classify: classifyCurlFailure,
      // curl without followlocation reads a redirect's own headers as the image's, and the plugin
      // then complains about Range support: ask the server what it really answered
      refine: async (cause) =>
        cause.errno === 'ESPIPE' && !sources.config.followRedirects
          ? ((await diagnoseRedirect(url.url)) ?? cause)
          : cause,
    },
    onExit,
  );
}
