// Bearer tokens of a registry's token service (Docker's "token authentication", which the OCI
// distribution registries follow): the registry answers 401 with
// `WWW-Authenticate: Bearer realm=…,service=…,scope=…`; the client GETs the realm with service and
// scope (and Basic credentials when the gateway has some for that registry) and gets
// `{token | access_token, expires_in}`. A token is kept until shortly before it expires, and
// fetched anew when the registry refuses it anyway.
import { redactUrl } from '../../log.js';
import { sourceError, readSmallBody, type Outbound } from './outbound.js';

export interface BearerChallenge {
  realm: string;
  service?: string;
  scope?: string;
}

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** The Bearer challenge of a WWW-Authenticate header, or undefined when it is not one. */
export function parseBearerChallenge(header: string | undefined): BearerChallenge | undefined {
  const m = /^\s*Bearer\s+(.*)$/i.exec(header ?? '');
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[1]!.matchAll(/([A-Za-z_]+)="([^"]*)"/g)) params[p[1]!.toLowerCase()] = p[2]!;
  if (!params.realm) return undefined;
  return {
    realm: params.realm,
    ...(params.service !== undefined ? { service: params.service } : {}),
    ...(params.scope !== undefined ? { scope: params.scope } : {}),
  };
}

/** expires_in when the token service gives none (the spec's default). */
const DEFAULT_EXPIRES_IN_S = 60;

export class RegistryTokens {
  private readonly cache = new Map<string, { token: string; renewAt: number }>();
  /** Fetches under way: the reads that find a token stale at once (a BMC's parallel reads) share one. */
  private readonly pending = new Map<string, Promise<string>>();

  constructor(
    private readonly outbound: Outbound,
    private readonly credentials: (registry: string) => RegistryCredentials | undefined,
  ) {}

  /** A token for the challenge: the kept one unless it is about to expire or `fresh` is asked. */
  async token(registry: string, challenge: BearerChallenge, fresh = false): Promise<string> {
    const key = `${registry} ${challenge.realm} ${challenge.service ?? ''} ${challenge.scope ?? ''}`;
    const kept = this.cache.get(key);
    if (kept && !fresh && Date.now() < kept.renewAt) return kept.token;
    let pending = this.pending.get(key);
    if (!pending) {
      pending = this.fetch(registry, challenge, key).finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    return pending;
  }

  private async fetch(registry: string, challenge: BearerChallenge, key: string): Promise<string> {
    const url = new URL(challenge.realm);
    if (challenge.service !== undefined) url.searchParams.set('service', challenge.service);
    if (challenge.scope !== undefined) url.searchParams.set('scope', challenge.scope);
    const creds = this.credentials(registry);
    const fetchedAt = Date.now();
    const res = await this.outbound.fetch(url, {
      headers: { Accept: 'application/json' },
      ...(creds
        ? { authorization: `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` }
        : {}),
    });
    const body = await readSmallBody(res, 64 * 1024);
    if (res.statusCode !== 200)
      throw sourceError(
        `the token service of ${registry} (${redactUrl(url)}) answered ${res.statusCode}${creds ? '' : ' (no credentials configured for this registry)'}`,
      );
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
    } catch {
      throw sourceError(`the token service of ${registry} answered something that is not JSON`);
    }
    const token = typeof parsed.token === 'string' ? parsed.token : parsed.access_token;
    if (typeof token !== 'string' || token === '')
      throw sourceError(`the token service of ${registry} answered no token`);
    const expiresIn =
      typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_EXPIRES_IN_S;
    // renewed while it still works: half-way through a short life, 30 s before the end of a long one
    const renewAfterS = Math.max(expiresIn / 2, expiresIn - 30);
    this.cache.set(key, { token, renewAt: fetchedAt + renewAfterS * 1000 });
    return token;
  }
}
