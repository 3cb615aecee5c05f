// An OCI distribution registry as an image source: a tag or digest resolves to a manifest, whose
// single layer is the image (an ORAS-style artifact: `oras push reg/repo:tag boot.iso`); its blob
// is read by Range. Requests carry the registry's bearer token (registry-tokens.ts), fetched on
// the first 401 and again on a 401 later on (a token that expired between two reads); the
// registry may answer a blob GET with a redirect to its storage, which gets no Authorization.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { sourceError, readSmallBody, type Outbound } from './outbound.js';
import { parseBearerChallenge, type BearerChallenge, type RegistryTokens } from './registry-tokens.js';
import { SHA256_DIGEST, type OciSourceUrl } from './source-url.js';

const MANIFEST_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];

export interface OciBlob {
  /** `sha256:<hex>` of the layer: the image's bytes. */
  digest: string;
  size: number;
  mediaType: string;
  /** The layer's `org.opencontainers.image.title` (the file name ORAS records). */
  title?: string;
  /** The manifest the reference resolved to (a tag is pinned to it). */
  manifestDigest: string;
}

interface Descriptor {
  mediaType?: unknown;
  digest?: unknown;
  size?: unknown;
  annotations?: Record<string, unknown>;
}

export class OciRegistry {
  /** The last challenge of each registry and repository: the token to ask for before a 401. */
  private readonly challenges = new Map<string, BearerChallenge>();

  constructor(
    private readonly outbound: Outbound,
    private readonly tokens: RegistryTokens,
  ) {}

  /** The image blob `ref` names, read from its manifest (which must have exactly one layer). */
  async resolve(ref: OciSourceUrl): Promise<OciBlob> {
    const res = await this.get(ref, `manifests/${ref.reference}`, { Accept: MANIFEST_TYPES.join(', ') });
    const body = await readSmallBody(res);
    if (res.statusCode === 404) throw sourceError(`${describe(ref)}: no such manifest in the registry`);
    if (res.statusCode !== 200) throw sourceError(`${describe(ref)}: the registry answered ${res.statusCode}`);
    const manifestDigest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
    if (SHA256_DIGEST.test(ref.reference) && manifestDigest !== ref.reference)
      throw sourceError(`${describe(ref)}: the manifest's bytes have digest ${manifestDigest}`);
    let manifest: { mediaType?: unknown; layers?: unknown; manifests?: unknown };
    try {
      manifest = JSON.parse(body.toString('utf8')) as typeof manifest;
    } catch {
      throw sourceError(`${describe(ref)}: the manifest is not JSON`);
    }
    if (Array.isArray(manifest.manifests))
      throw sourceError(`${describe(ref)}: an image index; name one of its manifests by digest`);
    const layers = Array.isArray(manifest.layers) ? (manifest.layers as Descriptor[]) : [];
    if (layers.length !== 1)
      throw sourceError(`${describe(ref)}: the manifest has ${layers.length} layers; an image artifact has one`);
    const layer = layers[0]!;
    if (typeof layer.digest !== 'string' || !SHA256_DIGEST.test(layer.digest))
      throw sourceError(`${describe(ref)}: the layer's digest is not sha256:<hex>`);
    if (typeof layer.size !== 'number' || !Number.isSafeInteger(layer.size) || layer.size < 0)
      throw sourceError(`${describe(ref)}: the layer has no size`);
    const title = layer.annotations?.['org.opencontainers.image.title'];
    return {
      digest: layer.digest,
      size: layer.size,
      mediaType: typeof layer.mediaType === 'string' ? layer.mediaType : 'application/octet-stream',
      ...(typeof title === 'string' ? { title } : {}),
      manifestDigest,
    };
  }

  /** The blob's bytes `start`..`end` (inclusive): the registry's or its storage's answer. */
  openBlob(ref: OciSourceUrl, digest: string, start: number, end: number): Promise<IncomingMessage> {
    return this.get(ref, `blobs/${digest}`, { Range: `bytes=${start}-${end}` });
  }

  private async get(ref: OciSourceUrl, tail: string, headers: Record<string, string>): Promise<IncomingMessage> {
    const url = new URL(`https://${ref.registry}/v2/${ref.repository}/${tail}`);
    const key = `${ref.registry}/${ref.repository}`;
    for (let attempt = 1; ; attempt++) {
      const challenge = this.challenges.get(key);
      // after a 401 the token is fetched anew even when the kept one has not reached its expiry
      const token = challenge && (await this.tokens.token(ref.registry, challenge, attempt > 1));
      const res = await this.outbound.fetch(url, { headers, ...(token ? { authorization: `Bearer ${token}` } : {}) });
      if (res.statusCode !== 401) return res;
      res.resume();
      const asked = parseBearerChallenge(res.headers['www-authenticate']);
      if (!asked) throw sourceError(`${describe(ref)}: the registry answered 401 without a Bearer challenge`);
      if (attempt >= 2) throw sourceError(`${describe(ref)}: the registry refused the token (401)`);
      this.challenges.set(key, asked);
    }
  }
}

function describe(ref: OciSourceUrl): string {
  return `oci://${ref.registry}/${ref.repository}${SHA256_DIGEST.test(ref.reference) ? '@' : ':'}${ref.reference}`;
}
