// The remote sources of images: what an https:// URL or an oci:// reference is (size, media type,
// the digest it promises), and its bytes by Range, fetched upstream on each read. An oci:// tag is
// resolved once and the image pinned to the blob digest it named then.
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { redactUrl } from '../../log.js';
import type { ImageSource } from '../repository/image-repository.js';
import { OciRegistry } from './oci-registry.js';
import { Outbound, sourceError, type OutboundPolicy } from './outbound.js';
import { RegistryTokens, type RegistryCredentials } from './registry-tokens.js';
import { parseSourceUrl, type SourceUrl } from './source-url.js';

export interface SourcesConfig extends OutboundPolicy {
  /** Basic credentials for registries' token services, by registry host[:port]. */
  registries?: ReadonlyMap<string, RegistryCredentials>;
}

/** What a source is, before its bytes are read. */
export interface ProbedSource {
  source: ImageSource;
  size: number;
  mediaType: string;
  /** Hex sha256 the bytes must have (an oci:// blob's digest). */
  sha256?: string;
  /** A name for the image when the caller gives none. */
  suggestedName: string;
}

export class ImageSources {
  private readonly outbound: Outbound;
  private readonly tokens: RegistryTokens;
  /** Also the shared storage's registry client (storage/oci-storage.ts): one token cache. */
  readonly registry: OciRegistry;

  constructor(config: SourcesConfig) {
    this.outbound = new Outbound(config);
    this.tokens = new RegistryTokens(this.outbound, (r) => config.registries?.get(r.toLowerCase()));
    this.registry = new OciRegistry(this.outbound, this.tokens);
  }

  async probe(text: string, cached: boolean): Promise<ProbedSource> {
    const ref = parseSourceUrl(text);
    if (ref.kind === 'https') {
      this.outbound.check(ref.url);
      const res = await this.outbound.fetch(ref.url, { method: 'HEAD' });
      res.resume();
      const size = Number(res.headers['content-length']);
      if (res.statusCode !== 200) throw sourceError(`${redactUrl(ref.url)}: the server answered ${res.statusCode}`);
      if (!Number.isSafeInteger(size)) throw sourceError(`${redactUrl(ref.url)}: no Content-Length`);
      if (!cached && !/\bbytes\b/.test(String(res.headers['accept-ranges'])))
        throw sourceError(`${redactUrl(ref.url)}: the server does not serve Range requests (register it cached)`);
      return {
        source: { url: text, cached },
        size,
        mediaType: res.headers['content-type'] ?? 'application/octet-stream',
        suggestedName: path.posix.basename(ref.url.pathname) || ref.url.hostname,
      };
    }
    this.outbound.check(new URL(`https://${ref.registry}/`));
    const blob = await this.registry.resolve(ref);
    return {
      source: { url: text, cached, blobDigest: blob.digest, manifestDigest: blob.manifestDigest },
      size: blob.size,
      mediaType: blob.mediaType,
      sha256: blob.digest.slice('sha256:'.length),
      suggestedName: blob.title ?? `${path.posix.basename(ref.repository)}-${blob.digest.slice(7, 19)}`,
    };
  }

  /** Bytes `start`..`end` (inclusive) of an image of `size` bytes, from its source. */
  async open(source: ImageSource, size: number, start: number, end: number): Promise<Readable> {
    const ref = parseSourceUrl(source.url);
    const res = await (ref.kind === 'https'
      ? this.outbound.fetch(ref.url, { headers: { Range: `bytes=${start}-${end}` } })
      : this.registry.openBlob(ref, source.blobDigest!, start, end));
    return checkedRange(res, describe(ref), size, start, end);
  }
}

/** Whether two oci:// sources name one blob of one registry's repository (verified once for both). */
export function sameBlob(a: ImageSource, b: ImageSource): boolean {
  if (a.blobDigest === undefined || a.blobDigest !== b.blobDigest) return false;
  const [ra, rb] = [parseSourceUrl(a.url), parseSourceUrl(b.url)];
  return ra.kind === 'oci' && rb.kind === 'oci' && ra.registry === rb.registry && ra.repository === rb.repository;
}

/** The response body when it holds exactly the bytes asked for (206, or 200 for the whole). */
function checkedRange(res: IncomingMessage, what: string, size: number, start: number, end: number): Readable {
  const whole = start === 0 && end === size - 1;
  const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range']));
  const exact =
    res.statusCode === 206
      ? range !== null && Number(range[1]) === start && Number(range[2]) === end
      : res.statusCode === 200 && whole && Number(res.headers['content-length']) === size;
  if (!exact) {
    res.resume();
    throw sourceError(
      `${what}: asked for bytes ${start}-${end} of ${size}, got ${res.statusCode} ${res.headers['content-range'] ?? ''}`.trim(),
    );
  }
  if (range && range[3] !== '*' && Number(range[3]) !== size) {
    res.resume();
    throw sourceError(`${what}: the source now has ${range[3]} bytes, not ${size}: it changed since it was registered`);
  }
  return res;
}

function describe(ref: SourceUrl): string {
  return ref.kind === 'https' ? redactUrl(ref.url) : `oci://${ref.registry}/${ref.repository}`;
}
