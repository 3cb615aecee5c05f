// The parts of the oci:// source that need no registry: source references, Bearer challenges,
// and the token cache against a small HTTPS token service (one fetch for many concurrent reads,
// kept until half its expires_in, fetched anew when asked after a 401, Basic credentials sent).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Outbound } from '../../src/gateway/sources/outbound.js';
import { parseBearerChallenge, RegistryTokens } from '../../src/gateway/sources/registry-tokens.js';
import { parseSourceUrl } from '../../src/gateway/sources/source-url.js';
import { createTestCa } from '../sources/helpers/test-ca.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('oci:// references', () => {
  it('parses registry, repository and tag or digest', () => {
    assert.deepEqual(parseSourceUrl('oci://registry.lab:5000/os/debian/netinst:12.5'), {
      kind: 'oci',
      registry: 'registry.lab:5000',
      repository: 'os/debian/netinst',
      reference: '12.5',
    });
    assert.deepEqual(parseSourceUrl(`oci://ghcr.io/org/boot@${DIGEST}`), {
      kind: 'oci',
      registry: 'ghcr.io',
      repository: 'org/boot',
      reference: DIGEST,
    });
    assert.equal(parseSourceUrl('https://images.lab/boot.iso').kind, 'https');
  });

  it('refuses what is not a reference, saying why', () => {
    const cases: [string, RegExp][] = [
      ['oci://registry.lab/boot', /name a tag/],
      ['oci://registry.lab/Boot:v1', /not a repository name/],
      ['oci://registry.lab/boot@sha256:abc', /sha256:<64 lower-case hex digits>/],
      ['oci://registry.lab/boot:-v1', /not a tag/],
      ['oci://registry.lab', /oci:\/\/registry\[:port\]\/repository/],
      ['ftp://images.lab/boot.iso', /an https:\/\/ URL or oci:\/\//],
    ];
    for (const [text, message] of cases) assert.throws(() => parseSourceUrl(text), message, text);
  });
});

describe('Bearer challenges', () => {
  it('reads realm, service and scope; anything else is not one', () => {
    assert.deepEqual(
      parseBearerChallenge('Bearer realm="https://auth.lab/token",service="registry.lab",scope="repository:a/b:pull"'),
      { realm: 'https://auth.lab/token', service: 'registry.lab', scope: 'repository:a/b:pull' },
    );
    assert.deepEqual(parseBearerChallenge('bearer realm="https://auth.lab/token"'), {
      realm: 'https://auth.lab/token',
    });
    assert.equal(parseBearerChallenge('Basic realm="registry"'), undefined);
    assert.equal(parseBearerChallenge('Bearer service="registry.lab"'), undefined);
    assert.equal(parseBearerChallenge(undefined), undefined);
  });
});

describe('registry tokens', () => {
  let dir: string;
  let server: Server;
  let realm = '';
  let outbound: Outbound;
  const asked: { authorization?: string; scope: string | null }[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vmedia-tokens-'));
    const ca = createTestCa(dir);
    server = createServer({ key: ca.serverKey, cert: ca.serverCert }, (req, res) => {
      const url = new URL(req.url ?? '/', 'https://x');
      asked.push({
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        scope: url.searchParams.get('scope'),
      });
      // answered late, so that concurrent callers overlap
      setTimeout(() => res.end(JSON.stringify({ token: `t${asked.length}`, expires_in: 60 })), 50);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    realm = `https://127.0.0.1:${port}/token`;
    outbound = new Outbound({ allowedHosts: [`127.0.0.1:${port}`], extraCaPem: ca.caPem });
  });

  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('one fetch for concurrent callers, with the Basic credentials; kept until half its life; fresh on demand', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const tokens = new RegistryTokens(outbound, (r) =>
      r === 'registry.lab' ? { username: 'gw', password: 'pw' } : undefined,
    );
    const challenge = { realm, service: 'registry.lab', scope: 'repository:os/boot:pull' };
    const got = await Promise.all(Array.from({ length: 10 }, () => tokens.token('registry.lab', challenge)));
    assert.deepEqual(new Set(got), new Set(['t1']));
    assert.deepEqual(asked, [
      { authorization: `Basic ${Buffer.from('gw:pw').toString('base64')}`, scope: 'repository:os/boot:pull' },
    ]);
    t.mock.timers.tick(29_000);
    assert.equal(await tokens.token('registry.lab', challenge), 't1', 'kept before half of expires_in');
    t.mock.timers.tick(2_000);
    assert.equal(await tokens.token('registry.lab', challenge), 't2', 'renewed past half of it');
    assert.equal(await tokens.token('registry.lab', challenge, true), 't3', 'fetched anew after a 401');
    assert.equal(asked.length, 3);
  });
});
