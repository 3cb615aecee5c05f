// The addresses a BMC reads media from, as the gateway resolves its Redfish host: a media URL is
// served only to them (a URL read off the BMC by someone else opens nothing). An IP literal is
// itself; a name is looked up, and the answer kept for a while (a lookup per request would slow
// every Range read).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

const KEEP_MS = 30_000;

export class BmcAddresses {
  private readonly cache = new Map<string, { addresses: Promise<string[]>; at: number }>();

  /** Does a request from `source` come from the BMC whose Redfish URL is `redfishUrl`? */
  async matches(redfishUrl: string, source: string): Promise<boolean> {
    return (await this.resolve(new URL(redfishUrl).hostname.replace(/^\[|\]$/g, ''))).includes(source);
  }

  private resolve(host: string): Promise<string[]> {
    if (isIP(host)) return Promise.resolve([host]);
    const kept = this.cache.get(host);
    if (kept && Date.now() - kept.at < KEEP_MS) return kept.addresses;
    const addresses = lookup(host, { all: true }).then(
      (found) => found.map((a) => a.address),
      () => [],
    );
    this.cache.set(host, { addresses, at: Date.now() });
    return addresses;
  }
}
