// A real OCI registry for the gateway's oci:// tests: Debian's docker-registry (distribution 2.8)
// over TLS from a test CA, with token authentication ("auth: token"): a small token service here
// signs ES256 JWTs with a test key whose certificate is the registry's rootcertbundle (x5c header),
// after checking Basic credentials. The registry's `redirect` storage middleware answers every blob
// GET with a 307 to a storage front here, which serves the filesystem driver's files by Range and
// records whether an Authorization header reached it. Images are pushed as ORAS-style artifacts
// with plain HTTP requests (blob upload POST + PUT, manifest PUT).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createTestCa, type TestCa } from '../sources/helpers/test-ca.js';
import { waitFor } from '../helpers/wait.js';

export const REGISTRY_SERVICE = 'vmedia-test-registry';
const ISSUER = 'vmedia-test-token-issuer';
/** distribution's token check allows this much clock skew past a token's exp. */
const REGISTRY_LEEWAY_S = 60;

export interface TokenPolicy {
  /** expires_in the token service answers. */
  expiresIn: number;
  /** Seconds the registry actually accepts the token (its exp claim); default expiresIn. */
  validFor?: number;
}

export interface StorageRequest {
  path: string;
  range?: string;
  authorization?: string;
}

export interface PushedArtifact {
  /** sha256:<hex> of the layer (the image), and of the manifest. */
  blobDigest: string;
  manifestDigest: string;
}

export interface Registry {
  /** host:port, as an oci:// reference names it. */
  host: string;
  /** The registry's, its token service's and its storage's host:port (a gateway's allow-list). */
  hosts: string[];
  ca: TestCa;
  credentials: { username: string; password: string };
  tokenPolicy: TokenPolicy;
  /** Tokens issued to the gateway's credentials (pull), and every request the storage front saw. */
  tokensIssued(): number;
  /** Blob GETs the registry answered 401 (its access log): a token it no longer took. */
  blobRefusals(): number;
  storageRequests: StorageRequest[];
  push(repository: string, tag: string, image: Buffer, title: string): Promise<PushedArtifact>;
  /** The registry's answer to a manifest GET (200, or 404 once it is deleted). */
  manifestStatus(repository: string, reference: string): Promise<number>;
  /** Overwrites a pushed blob's stored bytes (same size): the registry still names the old digest. */
  corruptBlob(digest: string): void;
  stop(): Promise<void>;
}

async function listenHttps(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  const port = await listenHttps(probe);
  probe.close();
  return port;
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/** Writes a gateway's `--sources` file for this registry (allow-list, CA, credentials): its path. */
export function writeSourcesFile(registry: Registry, dir: string): string {
  const file = path.join(dir, 'sources.json');
  writeFileSync(
    file,
    JSON.stringify({
      AllowedHosts: registry.hosts,
      CaFile: registry.ca.caCertFile,
      Registries: [
        { Host: registry.host, Username: registry.credentials.username, Password: registry.credentials.password },
      ],
    }),
  );
  return file;
}

export async function startRegistry(dir: string): Promise<Registry> {
  const ca = createTestCa(path.join(dir, 'ca'));
  const tls = { key: ca.serverKey, cert: ca.serverCert };
  const root = path.join(dir, 'storage');
  const f = (n: string) => path.join(dir, n);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
    '-subj', '/CN=vmedia test token signer', '-keyout', f('signer.key'), '-out', f('signer.pem'),
  ], { stdio: ['ignore', 'ignore', 'pipe'] }); // prettier-ignore
  const signerKey = createPrivateKey(readFileSync(f('signer.key')));
  const signerDer = new X509Certificate(readFileSync(f('signer.pem'))).raw;
  const credentials = { username: 'gateway', password: randomUUID() };
  const pusher = { username: 'pusher', password: randomUUID() };
  const tokenPolicy: TokenPolicy = { expiresIn: 300 };
  let issued = 0;

  const jwt = (scope: string | null, validFor: number) => {
    const now = Math.floor(Date.now() / 1000);
    const access = (scope ?? '')
      .split(' ')
      .filter(Boolean)
      .map((s) => {
        const [type, name, actions] = s.split(':') as [string, string, string];
        return { type, name, actions: actions.split(',') };
      });
    const header = { typ: 'JWT', alg: 'ES256', x5c: [signerDer.toString('base64')] };
    const claims = {
      iss: ISSUER,
      sub: 'gateway',
      aud: REGISTRY_SERVICE,
      // the registry accepts a token up to its leeway past exp: exp is set back by it
      exp: now + validFor - REGISTRY_LEEWAY_S,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = sign('sha256', Buffer.from(input), { key: signerKey, dsaEncoding: 'ieee-p1363' });
    return `${input}.${b64url(signature)}`;
  };

  const tokenServer = createServer(tls, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://token');
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    const [user, password] = basic ? Buffer.from(basic[1]!, 'base64').toString().split(':') : [];
    const known = [credentials, pusher].find((c) => c.username === user && c.password === password);
    if (url.pathname !== '/token' || url.searchParams.get('service') !== REGISTRY_SERVICE || !known) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="token"' }).end();
      return;
    }
    if (known === credentials) issued++;
    const validFor = tokenPolicy.validFor ?? tokenPolicy.expiresIn;
    const token = jwt(url.searchParams.getAll('scope').join(' '), validFor);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token, expires_in: tokenPolicy.expiresIn, issued_at: new Date().toISOString() }));
  });
  const storageRequests: StorageRequest[] = [];
  const storage = createServer(tls, (req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'https://storage').pathname);
    storageRequests.push({
      path: pathname,
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });
    const file = path.join(root, path.normalize(pathname));
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      res.writeHead(404).end();
      return;
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const [start, end] = m ? [Number(m[1]), Math.min(Number(m[2]), size - 1)] : [0, size - 1];
    res.writeHead(m ? 206 : 200, {
      'Content-Length': String(end - start + 1),
      'Accept-Ranges': 'bytes',
      ...(m ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    });
    createReadStream(file, { start, end }).pipe(res);
  });
  const tokenPort = await listenHttps(tokenServer);
  const storagePort = await listenHttps(storage);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  writeFileSync(
    f('config.yml'),
    [
      'version: 0.1',
      'log: {level: warn}',
      'storage:',
      `  filesystem: {rootdirectory: ${root}}`,
      // the gateway's shared storage deletes an image's manifest
      '  delete: {enabled: true}',
      'http:',
      `  addr: ${host}`,
      `  secret: ${randomUUID()}`,
      `  tls: {certificate: ${path.join(dir, 'ca', 'server.pem')}, key: ${path.join(dir, 'ca', 'server.key')}}`,
      'auth:',
      '  token:',
      `    realm: https://127.0.0.1:${tokenPort}/token`,
      `    service: ${REGISTRY_SERVICE}`,
      `    issuer: ${ISSUER}`,
      `    rootcertbundle: ${f('signer.pem')}`,
      'middleware:',
      '  storage:',
      '    - name: redirect',
      `      options: {baseurl: "https://127.0.0.1:${storagePort}/"}`,
      '',
    ].join('\n'),
  );
  let output = '';
  const child: ChildProcess = spawn('docker-registry', ['serve', f('config.yml')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));

  /** A registry request as the pusher, with a push token for the repository. */
  const call = async (
    method: string,
    pathOrUrl: string,
    repository: string,
    body?: Buffer,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> => {
    const token = await new Promise<string>((resolve, reject) => {
      const auth = Buffer.from(`${pusher.username}:${pusher.password}`).toString('base64');
      const scope = encodeURIComponent(`repository:${repository}:pull,push`);
      request(
        `https://127.0.0.1:${tokenPort}/token?service=${REGISTRY_SERVICE}&scope=${scope}`,
        { ca: ca.caPem, headers: { Authorization: `Basic ${auth}` } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve((JSON.parse(Buffer.concat(chunks).toString()) as { token: string }).token));
        },
      )
        .on('error', reject)
        .end();
    });
    return new Promise((resolve, reject) => {
      request(
        new URL(pathOrUrl, `https://${host}`),
        {
          method,
          ca: ca.caPem,
          headers: {
            ...headers,
            Authorization: `Bearer ${token}`,
            ...(body ? { 'Content-Length': String(body.length) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
        },
      )
        .on('error', reject)
        .end(body);
    });
  };
  const digestOf = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
  const pushBlob = async (repository: string, data: Buffer): Promise<string> => {
    const digest = digestOf(data);
    const started = await call('POST', `/v2/${repository}/blobs/uploads/`, repository);
    if (started.status !== 202) throw new Error(`upload POST: ${started.status} ${started.body.toString()}`);
    const location = new URL(String(started.headers.location), `https://${host}`);
    location.searchParams.set('digest', digest);
    const put = await call('PUT', location.toString(), repository, data, {
      'Content-Type': 'application/octet-stream',
    });
    if (put.status !== 201) throw new Error(`upload PUT: ${put.status} ${put.body.toString()}`);
    return digest;
  };

  const registry: Registry = {
    host,
    hosts: [host, `127.0.0.1:${tokenPort}`, `127.0.0.1:${storagePort}`],
    ca,
    credentials,
    tokenPolicy,
    tokensIssued: () => issued,
    blobRefusals: () => output.match(/"GET \/v2\/\S+\/blobs\/sha256:\S+ HTTP\/1\.1" 401 /g)?.length ?? 0,
    storageRequests,
    push: async (repository, tag, image, title) => {
      const config = Buffer.from('{}');
      const configDigest = await pushBlob(repository, config);
      const blobDigest = await pushBlob(repository, image);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          artifactType: 'application/vnd.vmedia.image',
          config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: configDigest, size: config.length },
          layers: [
            {
              mediaType: 'application/vnd.vmedia.image.iso',
              digest: blobDigest,
              size: image.length,
              annotations: { 'org.opencontainers.image.title': title },
            },
          ],
        }),
      );
      const put = await call('PUT', `/v2/${repository}/manifests/${tag}`, repository, manifest, {
        'Content-Type': 'application/vnd.oci.image.manifest.v1+json',
      });
      if (put.status !== 201) throw new Error(`manifest PUT: ${put.status} ${put.body.toString()}`);
      return { blobDigest, manifestDigest: digestOf(manifest) };
    },
    manifestStatus: async (repository, reference) =>
      (
        await call('GET', `/v2/${repository}/manifests/${reference}`, repository, undefined, {
          Accept: 'application/vnd.oci.image.manifest.v1+json',
        })
      ).status,
    corruptBlob: (digest) => {
      const hex = digest.slice('sha256:'.length);
      const file = path.join(root, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
      const bytes = readFileSync(file);
      const middle = bytes.length >> 1;
      bytes.writeUInt8(bytes.readUInt8(middle) ^ 0xff, middle);
      writeFileSync(file, bytes);
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      tokenServer.close();
      storage.close();
      tokenServer.closeAllConnections();
      storage.closeAllConnections();
    },
  };
  try {
    await waitFor(
      () => `docker-registry listening on ${host}:\n${output}`,
      async () =>
        child.exitCode === null &&
        (await call('GET', '/v2/', 'probe').then(
          (r) => r.status === 200,
          () => false,
        )),
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  } catch (err) {
    await registry.stop();
    throw err;
  }
  return registry;
}
