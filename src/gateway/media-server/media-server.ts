// The HTTPS server the BMCs read images from: GET/HEAD /media/<token>/<name> with Range. The token
// names exactly one attachment, so a URL serves that attachment's image and nothing else, and only
// with that attachment's Basic credentials, and under the image's own name. Unknown token: 404; detached, failed or expired: 410.
// Bytes served are counted per attachment (in memory, written to the database every second:
// served-bytes.ts). Bound to the BMC (the default), a URL serves only the
// BMC's own address (404 for others). Failed accesses are limited per source address (429); reads
// that pass are not.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../log.js';
import { attachmentUser, passwordMatches, sha256Hex } from '../attachments/access.js';
import type { GatewayStore } from '../db/store.js';
import { GatewayError } from '../errors.js';
import { sendRange } from '../http/range.js';
import type { ImageRepository } from '../repository/image-repository.js';
import type { SourceImages } from '../sources/source-images.js';
import { addressKey, DEFAULT_LIMITS, RateLimiter, sourceAddress } from '../api/rate-limit.js';
import { BmcAddresses } from './bmc-address.js';
import { ServedBytes } from './served-bytes.js';

export interface MediaServerOptions {
  store: GatewayStore;
  repository: ImageRepository;
  /** The images built from generated-media documents (an attachment with a nonce serves one). */
  generated?: ImageRepository;
  /** An image's bytes: its file, or its source read by Range. */
  sourceImages: SourceImages;
  tls: { cert: string; key: string };
  log: Logger;
  /** Serve an attachment only to its BMC's address as its Redfish URL resolves (default true). */
  bindToBmc?: boolean;
  /** Spent per failed access (unknown token, wrong credentials, another address) per source address. */
  failures?: RateLimiter;
  /** Where the bytes served are counted; the gateway passes its own to write them at its stop
   *  (default: one of this server's, written every second). */
  served?: ServedBytes;
}

function basicCredentials(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? undefined : { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers }).end(`${text}\n`);
}

export function createMediaServer(o: MediaServerOptions): Server {
  const bmcAddresses = new BmcAddresses();
  const failures = o.failures ?? new RateLimiter(DEFAULT_LIMITS.mediaFailures);
  const served = o.served ?? new ServedBytes(o.store, o.log);
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('Cache-Control', 'no-store');
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return plain(res, 405, 'GET or HEAD only', { Allow: 'GET, HEAD' });
    const source = sourceAddress(req);
    // a failed access spends one of its address's; past them it is 429 (a right one is never
    // limited: a BMC reads on even when stale URLs of its own were refused)
    const failed = (status: number, text: string, headers?: Record<string, string>) => {
      const wait = failures.take(addressKey(source));
      if (wait > 0) plain(res, 429, 'too many failed requests', { 'Retry-After': String(wait) });
      else plain(res, status, text, headers);
    };
    const m = /^\/media\/([A-Za-z0-9_-]{43})\/([^/?]+)(?:\?.*)?$/.exec(req.url ?? '');
    if (!m) return failed(404, 'no such media');
    const row = await o.store.findAttachmentByToken(sha256Hex(m[1]!));
    if (!row) return failed(404, 'no such media');
    if (o.bindToBmc ?? true) {
      const bmc = await o.store.getBmc(row.bmc);
      if (!bmc || !(await bmcAddresses.matches(bmc.redfishUrl, source))) return failed(404, 'no such media');
    }
    const live = (row.state === 'attached' || row.state === 'attaching') && (row.expiresAt ?? 0) > Date.now();
    if (!live) return plain(res, 410, 'this media URL was revoked or has expired');
    const creds = basicCredentials(req.headers.authorization);
    if (!creds || creds.user !== attachmentUser(row.id) || !passwordMatches(creds.password, row.passwordHash))
      return failed(401, 'credentials required', { 'WWW-Authenticate': 'Basic realm="vmedia gateway media"' });
    const generated = row.generatedNonce === null ? undefined : o.generated;
    let image;
    try {
      // as the database has it now: another gateway may have changed or deleted it
      image = await (generated ?? o.repository).fresh(row.imageId);
    } catch {
      return plain(res, 410, 'the image was deleted');
    }
    // the name is part of the URL the BMC was given: a token under another name serves nothing
    if (safeDecode(m[2]!) !== image.name) return plain(res, 404, 'no such media');
    const content = generated ? generated.content(image) : o.sourceImages.content(image);
    const sent = await sendRange(req, res, content);
    if (sent > 0) served.add(row.id, sent);
  };
  return createServer({ cert: o.tls.cert, key: o.tls.key, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      o.log.error({ err: (err as Error).message }, 'media request failed');
      // a source that fails (502) or an image that failed its digest (409) says so
      if (!res.headersSent)
        plain(
          res,
          err instanceof GatewayError ? err.status : 500,
          err instanceof GatewayError ? err.message : 'internal error',
        );
      else res.destroy();
    });
  });
}
