// Every request the gateway makes to an image source (an HTTPS server, a registry, its token
// service, the blob storage it redirects to) goes through here: https only, the host checked
// against the operator's allow-list when there is one, and otherwise every address it resolves to
// checked by the SSRF guard (src/sources/guards) at each connection. Redirects are followed here,
// never by a library, so that each hop is checked and the Authorization header stays with the
// origin that asked for it (a registry's 307 to blob storage carries a presigned URL).
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { redactUrl } from '../../log.js';
import { checkedLookup, checkSourceHost } from '../../sources/guards/ssrf-guard.js';
import { GatewayError } from '../errors.js';

export interface OutboundPolicy {
  /** host[:port] entries; when set, the only hosts sources may reach, loopback and private ones included. */
  allowedHosts?: readonly string[];
  /** PEM of CAs trusted besides the system's (a private registry's). */
  extraCaPem?: string;
  timeoutMs?: number;
}

export interface OutboundRequest {
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  /** What a push sends (the caller sets Content-Length); a function for a stream, opened per attempt. */
  body?: Buffer | (() => Readable);
  /** Sent to `url`'s origin only, never to where it redirects. */
  authorization?: string;
}

const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export const sourceError = (message: string, options?: ErrorOptions) =>
  new GatewayError(502, 'SourceFailed', message, options);

export class Outbound {
  private readonly allowed: Set<string> | undefined;
  private readonly ca: string[] | undefined;

  constructor(private readonly policy: OutboundPolicy) {
    this.allowed = policy.allowedHosts
      ? new Set(policy.allowedHosts.map((h) => hostPort(new URL(`https://${h}`))))
      : undefined;
    this.ca = policy.extraCaPem ? [...rootCertificates, policy.extraCaPem] : undefined;
  }

  /** Refuses a URL the gateway may not fetch (400: the caller named it). */
  check(url: URL): void {
    if (url.protocol !== 'https:') throw new GatewayError(400, 'SourceRefused', `${redactUrl(url)}: only https`);
    if (url.username || url.password)
      throw new GatewayError(400, 'SourceRefused', 'credentials in a source URL are refused: configure them');
    if (this.allowed && !this.allowed.has(hostPort(url)))
      throw new GatewayError(400, 'SourceRefused', `${hostPort(url)} is not among the allowed source hosts`);
  }

  /** The response of `url` after its redirects; the caller reads or destroys its body. */
  async fetch(url: URL, req: OutboundRequest = {}): Promise<IncomingMessage> {
    let at = url;
    for (let hop = 0; ; hop++) {
      const authorization = at.origin === url.origin ? req.authorization : undefined;
      const res = await this.once(at, req, authorization, hop === 0);
      const location = res.headers.location;
      if (!REDIRECTS.has(res.statusCode ?? 0) || location === undefined) return res;
      res.resume();
      if (hop >= MAX_REDIRECTS) throw sourceError(`${redactUrl(url)}: more than ${MAX_REDIRECTS} redirects`);
      at = new URL(location, at);
    }
  }

  /** `named`: the URL the caller gave (a refusal is then the caller's 400), not a redirect's. */
  private async once(
    url: URL,
    req: OutboundRequest,
    authorization: string | undefined,
    named: boolean,
  ): Promise<IncomingMessage> {
    try {
      this.check(url);
    } catch (err) {
      // a redirect to a refused host is the source's fault, not the caller's
      throw sourceError((err as Error).message);
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const guarded = !this.allowed;
    try {
      // an IP literal is never looked up, so it is checked here; a name is checked at each connection
      if (guarded) await checkSourceHost(host);
    } catch (err) {
      // the guard's hint names the daemon's setting; the gateway's is the allow-list
      const reason = (err as Error).message.replace(/ \(set AllowPrivateSourceHosts to allow it\)$/, '');
      const message = `${reason} (list it in the sources file's AllowedHosts to allow it)`;
      throw named ? new GatewayError(400, 'SourceRefused', message) : sourceError(message);
    }
    return new Promise((resolve, reject) => {
      const r = request(
        {
          host,
          port: url.port || 443,
          path: `${url.pathname}${url.search}`,
          method: req.method ?? 'GET',
          ...(guarded ? { lookup: checkedLookup } : {}),
          ...(this.ca ? { ca: this.ca } : {}),
          timeout: this.policy.timeoutMs ?? 60_000,
          headers: { ...req.headers, ...(authorization ? { Authorization: authorization } : {}) },
        },
        resolve,
      );
      r.on('timeout', () => r.destroy(new Error('no answer within the timeout')));
      r.on('error', (err) => reject(sourceError(`${redactUrl(url)}: ${err.message}`, { cause: err })));
      if (typeof req.body === 'function')
        req
          .body()
          .on('error', (err) => r.destroy(err))
          .pipe(r);
      else r.end(req.body);
    });
  }
}

export function hostPort(url: URL): string {
  return `${url.hostname}:${url.port || 443}`.toLowerCase();
}

/** The body of a small answer (a manifest, a token), at most `limit` bytes. */
export async function readSmallBody(res: IncomingMessage, limit = 4 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      res.destroy();
      throw sourceError(`an answer larger than ${limit} bytes where a small document was expected`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
