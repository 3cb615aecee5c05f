// A Legacy source's relay (socks-relay.ts): one per slot while the SSRF guard is on, on a Unix
// socket next to nbdkit's pid file in the 0700 state dir, logging under the slot's name.
import path from 'node:path';
import type { SourceContext } from '../nbdkit/source.js';
import { startSocksRelay, type SocksRelay } from './socks-relay.js';

export function startSourceRelay(ctx: SourceContext): Promise<SocksRelay> {
  const slot = ctx.req.slot.name;
  return startSocksRelay(
    path.join(ctx.sources.stateDir, `${slot}.socks`),
    ctx.log.child({ slot, url: ctx.url.redacted }),
  );
}

/** libcurl's name for a SOCKS proxy on a Unix socket (socks5h: curl hands the relay the host name, never resolves it). */
export function curlProxyUrl(relay: SocksRelay): string {
  // libcurl URL-decodes the path
  return `socks5h://localhost${relay.socket.split('/').map(encodeURIComponent).join('/')}`;
}
