// An OCI distribution registry as an image source: a tag or digest resolves to a manifest, whose
// single layer is the image (an ORAS-style artifact: `oras push reg/repo:tag boot.iso`); its blob
// is read by Range. Requests carry the registry's bearer token (registry-tokens.ts), fetched on
// the first 401 and again on a 401 later on (a token that expired between two reads); the
// registry may answer a blob GET with a redirect to its storage, which gets no Authorization.
// As shared storage (`--storage oci://`) the gateway also pushes its uploads here and deletes them.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { sourceError, readSmallBody, type Outbound, type OutboundRequest } from './outbound.js';
import { parseBearerChallenge, type BearerChallenge, type RegistryTokens } from './registry-tokens.js';
import { SHA256_DIGEST, type OciSourceUrl } from './source-url.js';

const MANIFEST_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];

/** A registry's repository: where images are pushed (shared storage) or read from. */
export interface OciRepository {
  registry: string;
  repository: string;
}

/** The artifact type of the images the gateway pushes (their manifests' `artifactType`). */
export const VMEDIA_ARTIFACT_TYPE = 'application/vnd.vmedia.image.v1';

/** The OCI spec's empty config (`{}`) for artifacts that have none. */
const EMPTY_CONFIG = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  bytes: Buffer.from('{}'),
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
};

/** What push() stores: one image's bytes and how its manifest describes them. */
export interface PushedImage {
  /** `sha256:<hex>` of the bytes. */
  digest: string;
  size: number;
  mediaType: string;
  /** The layer's `org.opencontainers.image.title`: the image's name. */
  title: string;
  tag: string;
  annotations: Record<string, string>;
}

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

  /**
   * Pushes an image as an OCI artifact (docs/gateway.md, Shared storage): its bytes as one blob
   * (a monolithic upload: POST, then PUT ?digest= with the bytes, which the registry checks
   * against the digest), the empty config, and a manifest naming them, PUT by its digest and
   * tagged `tag` (an untagged manifest is what `garbage-collect --delete-untagged` removes).
   * Resolves to the manifest's digest. `open` is called again when the registry asks for a new
   * token before it took the bytes.
   */
  async push(repo: OciRepository, artifact: PushedImage, open: () => Readable): Promise<string> {
    await this.pushBlob(repo, artifact.digest, artifact.size, open);
    return this.pushManifest(repo, artifact);
  }

  /**
   * Pushes the empty config and the manifest of an artifact whose blob the registry holds already
   * (push(), or a chunked upload completed by completeUpload()). Resolves to the manifest's digest.
   */
  async pushManifest(repo: OciRepository, artifact: PushedImage): Promise<string> {
    await this.pushBlob(repo, EMPTY_CONFIG.digest, EMPTY_CONFIG.bytes.length, () => EMPTY_CONFIG.bytes);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MANIFEST_TYPES[0],
        artifactType: VMEDIA_ARTIFACT_TYPE,
        config: { mediaType: EMPTY_CONFIG.mediaType, digest: EMPTY_CONFIG.digest, size: EMPTY_CONFIG.bytes.length },
        layers: [
          {
            mediaType: artifact.mediaType,
            digest: artifact.digest,
            size: artifact.size,
            annotations: { 'org.opencontainers.image.title': artifact.title },
          },
        ],
        // the image's id makes each image's manifest its own: deleting one never removes another's
        annotations: artifact.annotations,
      }),
    );
    const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
    for (const reference of [digest, artifact.tag]) {
      const res = await this.send(repo, 'push', `manifests/${reference}`, {
        method: 'PUT',
        headers: { 'Content-Type': MANIFEST_TYPES[0]!, 'Content-Length': String(manifest.length) },
        body: manifest,
      });
      await expectStatus(res, 201, `${describe(repo)}: manifest PUT`);
    }
    return digest;
  }

  /** Deletes a manifest (and the tags on it); its blobs go at the registry's next garbage collection. */
  async deleteManifest(repo: OciRepository, digest: string): Promise<void> {
    const res = await this.send(repo, 'push', `manifests/${digest}`, { method: 'DELETE' });
    if (res.statusCode === 404) return void res.resume(); // gone already: what was asked
    if (res.statusCode === 405) {
      res.resume();
      throw sourceError(`${describe(repo)}: the registry refuses deletes (its storage.delete.enabled is off)`);
    }
    await expectStatus(res, 202, `${describe(repo)}: manifest DELETE`);
  }

  /** Opens a blob upload (POST /v2/<repository>/blobs/uploads/): resolves to its Location. */
  async startUpload(repo: OciRepository): Promise<string> {
    const started = await this.send(repo, 'push', 'blobs/uploads/', {
      method: 'POST',
      headers: { 'Content-Length': '0' },
    });
    await expectStatus(started, 202, `${describe(repo)}: blob upload POST`);
    return uploadLocation(repo, started, 'POST');
  }

  /**
   * What the registry holds of an upload (GET of its Location: `Range: 0-<last byte>`), with the
   * Location to continue at; undefined when the registry no longer has the upload (or dropped it). `known`: the
   * offset recorded last (uploadedBytes).
   */
  async uploadStatus(repo: OciRepository, location: string, known: number): Promise<UploadState | undefined> {
    const res = await this.send(repo, 'push', new URL(location), {});
    if (res.statusCode === 404) return void res.resume();
    if (res.statusCode === 400) {
      // docker distribution cancels an upload whose bytes are not where its Location's state says
      // (a PATCH cut off after some of its bytes were written)
      const body = (await readSmallBody(res, 64 * 1024)).toString('utf8');
      if (body.includes('BLOB_UPLOAD_INVALID') || body.includes('BLOB_UPLOAD_UNKNOWN')) return undefined;
      throw sourceError(`${describe(repo)}: blob upload status: the registry answered 400 ${body.slice(0, 300)}`);
    }
    await expectStatus(res, 204, `${describe(repo)}: blob upload status`);
    return { offset: uploadedBytes(res, known), location: uploadLocation(repo, res, 'status GET', location) };
  }

  /**
   * Appends `body` to an upload in one PATCH (streamed: the registry appends what arrives). The
   * push token must be fresh (uploadStatus() just before): a body streamed once cannot be sent
   * again after a 401. `known`: the offset the piece ended at, as the gateway counted it (uploadedBytes).
   */
  async appendUpload(repo: OciRepository, location: string, body: Readable, known: () => number): Promise<UploadState> {
    const res = await this.send(repo, 'push', new URL(location), {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: () => {
        if (body.readableDidRead)
          throw sourceError(
            `${describe(repo)}: the registry refused the token in the middle of a piece: send it again`,
          );
        return body;
      },
    });
    await expectStatus(res, 202, `${describe(repo)}: blob upload PATCH`);
    return { offset: uploadedBytes(res, known()), location: uploadLocation(repo, res, 'PATCH') };
  }

  /**
   * Completes an upload as the blob `digest` (PUT ?digest=, no body): the registry checks the
   * bytes it holds against it. False when they have another digest (DIGEST_INVALID).
   */
  async completeUpload(repo: OciRepository, location: string, digest: string): Promise<boolean> {
    const put = new URL(location);
    put.searchParams.set('digest', digest);
    const res = await this.send(repo, 'push', put, { method: 'PUT', headers: { 'Content-Length': '0' } });
    if (res.statusCode === 400) {
      const body = (await readSmallBody(res, 64 * 1024)).toString('utf8');
      if (body.includes('DIGEST_INVALID')) return false;
      throw sourceError(`${describe(repo)}: blob upload PUT: the registry answered 400 ${body.slice(0, 300)}`);
    }
    await expectStatus(res, 201, `${describe(repo)}: blob upload PUT`);
    return true;
  }

  /** Cancels an upload (DELETE of its Location); one the registry no longer has is done too. */
  async cancelUpload(repo: OciRepository, location: string): Promise<void> {
    const res = await this.send(repo, 'push', new URL(location), { method: 'DELETE' });
    if (res.statusCode === 404) return void res.resume();
    await expectStatus(res, 204, `${describe(repo)}: blob upload DELETE`);
  }

  private async pushBlob(repo: OciRepository, digest: string, size: number, open: () => Readable | Buffer) {
    const put = new URL(await this.startUpload(repo));
    put.searchParams.set('digest', digest);
    const res = await this.send(repo, 'push', put, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
      body: () => {
        const bytes = open();
        return Buffer.isBuffer(bytes) ? Readable.from([bytes]) : bytes;
      },
    });
    await expectStatus(res, 201, `${describe(repo)}: blob upload PUT`);
  }

  private get(ref: OciSourceUrl, tail: string, headers: Record<string, string>): Promise<IncomingMessage> {
    return this.send(ref, 'pull', tail, { headers });
  }

  /**
   * A request to the repository (`tail` below /v2/<repository>/, or a URL the registry gave),
   * with the token the registry asks for: fetched on a 401, and again on a second one (a kept
   * token that expired early). Pulls and pushes keep their challenges apart (their scopes differ).
   */
  private async send(
    repo: OciRepository,
    access: 'pull' | 'push',
    tail: string | URL,
    req: OutboundRequest,
  ): Promise<IncomingMessage> {
    const url = typeof tail === 'string' ? new URL(`https://${repo.registry}/v2/${repo.repository}/${tail}`) : tail;
    const key = `${repo.registry}/${repo.repository} ${access}`;
    for (let attempt = 1; ; attempt++) {
      const challenge = this.challenges.get(key);
      // after a 401 the token is fetched anew even when the kept one has not reached its expiry
      const token = challenge && (await this.tokens.token(repo.registry, challenge, attempt > 1));
      // a Location the registry gave may be elsewhere: the token goes to the registry only
      const ours = url.origin === new URL(`https://${repo.registry}/`).origin;
      const res = await this.outbound.fetch(url, {
        ...req,
        ...(token && ours ? { authorization: `Bearer ${token}` } : {}),
      });
      if (res.statusCode !== 401) return res;
      res.resume();
      const asked = parseBearerChallenge(res.headers['www-authenticate']);
      if (!asked) throw sourceError(`${describe(repo)}: the registry answered 401 without a Bearer challenge`);
      if (attempt >= 2) throw sourceError(`${describe(repo)}: the registry refused the token (401)`);
      // a blob upload's status GET is challenged for pull only: a push token is asked for pull and
      // push, so that the next PATCH, whose body is sent once, has the token it needs
      const pullOnly = `repository:${repo.repository}:pull`;
      this.challenges.set(
        key,
        access === 'push' && asked.scope === pullOnly ? { ...asked, scope: `${pullOnly},push` } : asked,
      );
    }
  }
}

/** Where a blob upload stands: the bytes the registry holds and the Location to continue at. */
export interface UploadState {
  offset: number;
  location: string;
}

/** The absolute Location of a blob upload's answer (`fallback` when it gave none). */
function uploadLocation(repo: OciRepository, res: IncomingMessage, what: string, fallback?: string): string {
  const location = res.headers.location ?? fallback;
  if (!location) throw sourceError(`${describe(repo)}: the blob upload ${what} answered no Location`);
  return new URL(location, `https://${repo.registry}/`).href;
}

/**
 * The bytes an upload holds from its `Range: 0-<last byte>`. An empty upload answers `0-0` too
 * (docker distribution), or no Range: `0-0` is 0 or 1 byte, told apart by `known`, the offset the
 * gateway recorded (the registry only ever adds bytes).
 */
function uploadedBytes(res: IncomingMessage, known: number): number {
  const m = /^(?:bytes=)?0-(\d+)$/.exec(String(res.headers.range ?? ''));
  if (!m) return 0;
  const last = Number(m[1]);
  return last === 0 ? Math.min(known, 1) : last + 1;
}

/** Throws a 502 naming the registry's answer (and its error body) unless it is `status`. */
async function expectStatus(res: IncomingMessage, status: number, what: string): Promise<void> {
  const body = await readSmallBody(res, 64 * 1024);
  if (res.statusCode !== status)
    throw sourceError(`${what}: the registry answered ${res.statusCode} ${body.toString('utf8').slice(0, 300)}`.trim());
}

function describe(ref: OciRepository | OciSourceUrl): string {
  const repo = `oci://${ref.registry}/${ref.repository}`;
  return 'reference' in ref ? `${repo}${SHA256_DIGEST.test(ref.reference) ? '@' : ':'}${ref.reference}` : repo;
}
