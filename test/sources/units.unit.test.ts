// The pure parts of the sources: URL checks, the SSRF guard's address rules, libcurl message →
// errno, the filter chain per config, and the Sources config defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSourceUrl } from '../../src/sources/guards/source-url.js';
import { forbiddenAddressReason } from '../../src/sources/guards/ssrf-guard.js';
import { classifyCurlFailure } from '../../src/sources/schemes/curl-errors.js';
import { buildFilterChain } from '../../src/sources/nbdkit/filter-chain.js';
import { normalizeSourcesConfig, SOURCES_DEFAULTS, sourcesConfigProblems } from '../../src/sources/config.js';
import { checkCredentials, secretLine } from '../../src/sources/guards/credentials.js';
import { MountError } from '../../src/errno.js';

const HTTP = ['https', 'http'];

test('parseSourceUrl: real deployment URLs pass; the logged form drops the query (tokens)', () => {
  const u = parseSourceUrl(
    'https://swift.example:8443/v1/AUTH_x/c/my%20image?temp_url_sig=abc&temp_url_expires=1',
    HTTP,
  );
  assert.equal(u.scheme, 'https');
  assert.equal(u.port, 8443);
  assert.equal(u.redacted, 'https://swift.example:8443/v1/AUTH_x/c/my%20image');
  const v6 = parseSourceUrl('http://[fd00::1]/boot', HTTP);
  assert.equal(v6.host, 'fd00::1');
  assert.equal(v6.port, 80);
});

test('parseSourceUrl: bad URLs → EINVAL with the reason', () => {
  for (const [url, why] of [
    ['', /empty/],
    ['smb://h/s/f.iso', /scheme "smb".*supported: https, http/],
    ['https://u:p@h/f.iso', /credentials/],
    ['https://h/', /names no file/],
    ['https://h/a b.iso', /spaces/],
    ['https://h/a\n.iso', /control/],
    ['::', /not a valid URL/],
    [`https://h/${'a'.repeat(9000)}`, /longer/],
  ] as const) {
    assert.throws(
      () => parseSourceUrl(url, HTTP),
      (e: unknown) => e instanceof MountError && e.errno === 'EINVAL' && why.test(e.message),
      url,
    );
  }
});

test('SSRF rules: loopback, link-local, multicast, unspecified and v4-mapped loopback are refused; others pass', () => {
  for (const a of [
    '127.0.0.1',
    '127.1.2.3',
    '::1',
    '169.254.169.254',
    'fe80::1',
    '0.0.0.0',
    '::',
    '::ffff:127.0.0.1',
    '224.0.0.1',
    'ff02::1',
  ]) {
    assert.ok(forbiddenAddressReason(a), a);
  }
  for (const a of ['10.0.0.5', '192.168.1.10', '203.0.113.7', '2001:db8::7', 'fd00::1']) {
    assert.equal(forbiddenAddressReason(a), undefined, a);
  }
});

test('libcurl messages → errno', () => {
  const cases: [string, string][] = [
    [
      'nbdkit: curl[1]: error: problem doing HEAD request to fetch size of URL [x]: HTTP response code said error: The requested URL returned error: 401',
      'EACCES',
    ],
    ['... The requested URL returned error: 403', 'EPERM'],
    ['... The requested URL returned error: 404', 'ENOENT'],
    ['... The requested URL returned error: 503', 'EIO'],
    ["nbdkit: curl[1]: error: server does not support 'range' (byte range) requests", 'ESPIPE'],
    ["error: Couldn't resolve host name: Could not resolve host: x.invalid", 'EHOSTUNREACH'],
    ["error: Couldn't connect to server: Failed to connect to 10.0.0.1 port 443: No route to host", 'EHOSTUNREACH'],
    [
      "error: Couldn't connect to server: Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server",
      'ECONNREFUSED',
    ],
    ['error: Timeout was reached: Connection timed out after 30001 milliseconds', 'ETIMEDOUT'],
    [
      'error: SSL peer certificate or SSH remote key was not OK: server certificate verification failed. CAfile: none',
      'EKEYREJECTED',
    ],
    [
      'error: pread: curl_easy_perform: Failure when receiving data from the peer: GnuTLS recv error (-110)',
      'ECONNRESET',
    ],
    ['error: SSL connect error: A TLS fatal alert has been received', 'EPROTO'],
  ];
  for (const [line, errno] of cases) assert.equal(classifyCurlFailure(line)?.errno, errno, line);
  assert.equal(classifyCurlFailure('nbdkit: debug: nothing wrong'), undefined);
});

test('filter chain: defaults give retry over the network (cache when configured); .xz/.gz add decompression; writable adds cow or is refused', () => {
  const all = new Set(['cow', 'xz', 'gzip', 'cache', 'retry']);
  const base = {
    sources: SOURCES_DEFAULTS,
    available: all,
    pathname: '/a.iso',
    writable: false,
    plugin: { network: true, writable: false },
  };
  const plain = buildFilterChain(base);
  assert.deepEqual(plain.filters, ['--filter=retry']);
  assert.ok(plain.readOnly);
  const cached = { ...base, sources: normalizeSourcesConfig({ Cache: { Enabled: true } }) };
  assert.deepEqual(buildFilterChain({ ...cached, pathname: '/a.IMG.XZ', writable: true }).filters, [
    '--filter=cow',
    '--filter=xz',
    '--filter=cache',
    '--filter=retry',
  ]);
  assert.deepEqual(buildFilterChain({ ...base, pathname: '/a.img.gz' }).filters.slice(0, 1), ['--filter=gzip']);
  const off = normalizeSourcesConfig({
    Retry: { Retries: 0 },
    Cache: { Enabled: false },
    Decompress: false,
    CopyOnWrite: false,
  });
  assert.deepEqual(buildFilterChain({ ...base, sources: off, pathname: '/a.xz' }).filters, []);
  assert.throws(
    () => buildFilterChain({ ...base, sources: off, writable: true }),
    (e: unknown) => e instanceof MountError && e.errno === 'EROFS',
  );
  assert.throws(
    () => buildFilterChain({ ...base, available: new Set(), writable: true }),
    (e: unknown) => e instanceof MountError && e.errno === 'ENOTSUP',
  );
  // a kernel mount: no cache/retry; a read-write share takes the writes itself
  const share = buildFilterChain({ ...base, writable: true, plugin: { network: false, writable: true } });
  assert.deepEqual(share.filters, []);
  assert.equal(share.readOnly, false);
});

test('Sources config: every key optional, defaults for an operator, bad combinations named', () => {
  assert.deepEqual(normalizeSourcesConfig(undefined), SOURCES_DEFAULTS);
  assert.equal(SOURCES_DEFAULTS.followRedirects, false);
  assert.equal(SOURCES_DEFAULTS.copyOnWrite, true);
  const c = normalizeSourcesConfig({ FollowRedirects: true, Cache: { BlockSizeKiB: 1024 }, TempDir: '/var/tmp' });
  assert.equal(c.followRedirects, true);
  assert.equal(c.cache.blockSizeKiB, 1024);
  assert.equal(c.cache.maxSizeMiB, SOURCES_DEFAULTS.cache.maxSizeMiB);
  assert.equal(c.tempDir, '/var/tmp');
  assert.deepEqual(sourcesConfigProblems(c), []);
  assert.deepEqual(sourcesConfigProblems(normalizeSourcesConfig({ Cache: { BlockSizeKiB: 32768, MaxSizeMiB: 32 } })), [
    'Sources.Cache.MaxSizeMiB: 32 must hold at least two blocks of Sources.Cache.BlockSizeKiB (32768)',
  ]);
});

test('credentials: what HTTP basic auth and nbdkit can carry; the secret line is a copy', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  checkCredentials({ user: 'alice', password: enc('a,b=c "d" \'e\' ü') });
  for (const [user, password] of <[string, string][]>[
    ['a:b', 'x'],
    ['a\nb', 'x'],
    ['a', 'x\ny'],
    ['a', 'x\ry'],
    ['a'.repeat(513), 'x'],
    ['a', 'x'.repeat(513)],
  ]) {
    assert.throws(
      () => checkCredentials({ user: user, password: enc(password) }),
      (e: unknown) => e instanceof MountError && e.errno === 'EINVAL',
      user,
    );
  }
  const password = enc('pw');
  const line = secretLine({ user: 'u', password });
  assert.deepEqual([...line], [...enc('pw\n')]);
  line.fill(0);
  assert.deepEqual([...password], [...enc('pw')]);
});
