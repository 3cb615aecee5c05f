// HTTPS JSON requests to one BMC's Redfish service: its own pinned CA (never the system store),
// Basic auth, and retries with backoff for 5xx answers and failed connections. The SSRF guard
// checks the BMC's address unless local BMCs are allowed (development, tests).
import { request } from 'node:https';
import { checkedLookup, checkSourceHost } from '../../sources/guards/ssrf-guard.js';
import { GatewayError } from '../errors.js';
import type { BmcRecord } from '../types.js';

export interface RedfishResponse {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Redfish resources are checked where read
  body: any;
  /** The resource's ETag, when the BMC sent one (a PATCH may need it in If-Match). */
  etag?: string;
}

export interface RedfishClientOptions {
  /** Let BMCs live on loopback or link-local addresses (the SSRF guard refuses them otherwise). */
  allowLocalBmcs: boolean;
  /** Attempts for a 5xx or a failed connection (default 4), the first retry after `backoffMs`. */
  attempts?: number;
  backoffMs?: number;
  timeoutMs?: number;
}

export class RedfishClient {
  private readonly base: URL;

  constructor(
    private readonly bmc: BmcRecord,
    private readonly opts: RedfishClientOptions,
  ) {
    this.base = new URL(bmc.redfishUrl);
  }

  get(pathname: string): Promise<RedfishResponse> {
    return this.send('GET', pathname);
  }

  post(pathname: string, body: unknown): Promise<RedfishResponse> {
    return this.send('POST', pathname, body);
  }

  /** `ifMatch`: the ETag the resource had when read; the BMC refuses the change (412) when it has another now. */
  patch(pathname: string, body: unknown, ifMatch?: string): Promise<RedfishResponse> {
    return this.send('PATCH', pathname, body, ifMatch === undefined ? {} : { 'If-Match': ifMatch });
  }

  private async send(
    method: string,
    pathname: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<RedfishResponse> {
    const attempts = this.opts.attempts ?? 4;
    let delay = this.opts.backoffMs ?? 500;
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.once(method, pathname, body, extraHeaders);
        if (res.status < 500 || attempt >= attempts) return res;
      } catch (err) {
        if (attempt >= attempts) throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay *= 2;
    }
  }

  private async once(
    method: string,
    pathname: string,
    body: unknown,
    extraHeaders: Record<string, string>,
  ): Promise<RedfishResponse> {
    const host = this.base.hostname.replace(/^\[|\]$/g, '');
    // an IP literal is never looked up, so it is checked here; a name is checked at each connection
    if (!this.opts.allowLocalBmcs) await checkSourceHost(host);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const auth = Buffer.from(`${this.bmc.username}:${this.bmc.password}`).toString('base64');
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host,
          ...(this.opts.allowLocalBmcs ? {} : { lookup: checkedLookup }),
          port: this.base.port || 443,
          path: pathname,
          method,
          ca: this.bmc.caPem,
          timeout: this.opts.timeoutMs ?? 120_000,
          headers: {
            Authorization: `Basic ${auth}`,
            Accept: 'application/json',
            'OData-Version': '4.0',
            ...extraHeaders,
            ...(payload === undefined
              ? {}
              : { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = undefined;
            }
            const etag = res.headers.etag;
            resolve({ status: res.statusCode ?? 0, body: parsed, ...(etag ? { etag } : {}) });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer from ${this.bmc.name} within the timeout`)));
      req.on('error', (err) =>
        reject(new GatewayError(502, 'BmcUnreachable', `BMC ${this.bmc.name}: ${err.message}`, { cause: err })),
      );
      req.end(payload);
    });
  }
}
