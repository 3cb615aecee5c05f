// https://, http:// and ftp:// images: nbdkit's curl plugin serves ranged reads of the URL (never
// a full download), under the filter chain (retry, cache, decompression, copy-on-write).
// With the SSRF guard on, curl connects only to checked addresses: http(s) through the slot's
// relay (redirects and retries included), ftp to the address checked at Mount.
import type { RunningSource } from '../types.js';
import type { MountError } from '../../errno.js';
import { buildFilterChain } from '../nbdkit/filter-chain.js';
import { classifyCurlFailure } from './curl-errors.js';
import { diagnoseRedirect } from '../guards/redirect-check.js';
import { checkedLookup } from '../guards/ssrf-guard.js';
import { curlProxyUrl, startSourceRelay } from '../guards/source-relay.js';
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
  // libcurl 7.88 cannot take FTP's data connection through a Unix-socket proxy; but FTP never uses
  // the host name (no TLS, no virtual hosts) and curl ignores the address in a PASV reply
  const checked = ctx.checkedAddresses?.[0];
  const ftp = checked !== undefined && url.scheme === 'ftp';
  const target = ftp ? withHost(url.url, checked) : url.url;
  const relay = ctx.checkedAddresses && !ftp ? await startSourceRelay(ctx) : undefined;
  const args = [
    ...chain.filters,
    'curl',
    `url=${target.href}`,
    ...(relay ? [`proxy=${curlProxyUrl(relay)}`] : []),
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
      // the relay knows why its latest connection failed (curl only says the SOCKS request did);
      // curl without followlocation reads a redirect's own headers as the image's, and the plugin
      // then complains about Range support: ask the server what it really answered
      refine: async (cause) =>
        relay?.lastFailure() ??
        (cause.errno === 'ESPIPE' && !sources.config.followRedirects
          ? ((await diagnoseRedirect(url.url, ctx.checkedAddresses ? checkedLookup : undefined)) ?? cause)
          : cause),
      ...(relay ? { cleanup: () => relay.close() } : {}),
    },
    onExit,
  );
}

function withHost(url: URL, address: string): URL {
  const pinned = new URL(url.href);
  pinned.hostname = address.includes(':') ? `[${address}]` : address;
  return pinned;
}
