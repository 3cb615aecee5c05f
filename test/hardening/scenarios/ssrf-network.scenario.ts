// Run by ../ssrf-rebinding.test.ts inside a private network namespace (never directly): the SSRF
// guard against DNS rebinding and redirects, with the real source provider, nbdkit, curl and
// libssh. Image servers listen on EXTERNAL_HOST (a remote host as far as the guard can tell);
// decoys listen on the same ports on 127.0.0.1 and ::1 and must see no connection at all.
// The daemon's environment carries proxy variables (NO_PROXY=* would make libcurl skip any proxy).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EXTERNAL_HOST, setUpPrivateNetwork } from '../helpers/private-network.js';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { createTestCa } from '../../sources/helpers/test-ca.js';
import { startImageServer, type ImageServer } from '../../sources/helpers/image-server.js';
import { startFtpServer, type FtpServer } from '../../sources/helpers/ftp-server.js';
import { startSshd, type Sshd } from '../../sources/helpers/sshd.js';
import {
  copyExport,
  nbdkitProcessesUnder,
  randomImage,
  startProvider,
  type ProviderHarness,
} from '../../sources/helpers/provider.js';

const LOOPBACK = '127.0.0.1';
const USER = 'vmedia-ssrf';
const PASSWORD = 'rebind-test-password';
const creds = { user: USER, password: new TextEncoder().encode(PASSWORD) };

let dir: string;
let dns: DnsServer;
let https: ImageServer;
let http: ImageServer;
let ftp: FtpServer;
let sshd: Sshd;
let harness: ProviderHarness;
let imageSha: string;
const decoys: net.Server[] = [];
let decoyConnections = 0;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vmedia-ssrf-'));
  chmodSync(dir, 0o755); // sshd's test user reads the image
  setUpPrivateNetwork(dir);
  dns = await startDnsServer(
    LOOPBACK,
    new Map([
      ['stable.test', [EXTERNAL_HOST]],
      ['rebind-http.test', [EXTERNAL_HOST, LOOPBACK]],
      ['rebind-ftp.test', [EXTERNAL_HOST, LOOPBACK]],
      ['rebind-sftp.test', [EXTERNAL_HOST, LOOPBACK]],
    ]),
  );
  const disk = path.join(dir, 'disk.img');
  imageSha = await randomImage(disk, 1);
  const files = new Map([['/disk.img', disk]]);
  const ca = createTestCa(path.join(dir, 'ca'), 'vmedia ssrf CA', ['stable.test']);
  const trust = path.join(dir, 'truststore');
  mkdirSync(trust);
  writeFileSync(path.join(trust, 'ca.pem'), ca.caPem);
  https = await startImageServer({ files, host: EXTERNAL_HOST, tls: { key: ca.serverKey, cert: ca.serverCert } });
  http = await startImageServer({ files, host: EXTERNAL_HOST });
  ftp = await startFtpServer({ files, user: USER, password: PASSWORD, host: EXTERNAL_HOST });
  sshd = await startSshd({
    dir: path.join(dir, 'sshd'),
    user: USER,
    password: PASSWORD,
    home: dir,
    listen: [EXTERNAL_HOST],
  });
  for (const port of [https.port, http.port, ftp.port, sshd.port]) {
    for (const host of [LOOPBACK, '::1']) decoys.push(await listenDecoy(host, port));
  }
  const knownHosts = path.join(dir, 'known_hosts');
  // the names only: the host key is checked against the URL's host, not the address it reached
  writeFileSync(knownHosts, `${sshd.knownHostsLine('stable.test')}\n${sshd.knownHostsLine('rebind-sftp.test')}\n`);
  // libcurl would obey these; nbdkit must not inherit them
  const decoyProxy = `http://${LOOPBACK}:${http.port}`;
  Object.assign(process.env, {
    NO_PROXY: '*',
    no_proxy: '*',
    http_proxy: decoyProxy,
    HTTPS_PROXY: decoyProxy,
    ALL_PROXY: decoyProxy,
  });
  harness = await startProvider({
    allowPrivate: false,
    trustStore: trust,
    // one read-ahead connection: each sftp one starts a ProxyCommand, which costs test time
    sources: { FollowRedirects: true, SshKnownHosts: knownHosts, Readahead: { Connections: 1 } },
  });
});

after(async () => {
  await harness?.close();
  for (const server of [https, http, ftp, sshd]) await server?.close();
  for (const decoy of decoys) decoy.close();
  await dns?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A listener that counts connections and cuts them: whatever reaches it got past the guard. */
function listenDecoy(host: string, port: number): Promise<net.Server> {
  const server = net.createServer((s) => {
    decoyConnections++;
    s.destroy();
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

test('https to a name through the relay: the image is read, TLS checked against the name; nbdkit has no proxy variables; the relay socket is 0600 and removed', async () => {
  const { socket, source } = await harness.mount(`https://stable.test:${https.port}/disk.img`, { slot: 'Relay' });
  const [pid] = nbdkitProcessesUnder(harness.dir);
  assert.ok(pid, 'nbdkit runs');
  assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /\0proxy=socks5h:\/\/localhost\//);
  const proxyVariables = readFileSync(`/proc/${pid}/environ`, 'utf8')
    .split('\0')
    .filter((v) => /^[^=]*_proxy=/i.test(v));
  assert.deepEqual(proxyVariables, []);
  const relay = path.join(harness.config.runtimeDir, 'sources', 'Relay.socks');
  assert.equal(statSync(relay).mode & 0o777, 0o600);
  assert.equal(await copyExport(socket, path.join(dir, 'https.img')), imageSha);
  await source.stop();
  harness.assertNothingLeft();
  assert.equal(decoyConnections, 0);
});

test('DNS rebinding over http: the name answers an external address, then 127.0.0.1 → EINVAL; the loopback service sees no connection', async () => {
  const err = await harness.mountError(`http://rebind-http.test:${http.port}/disk.img`);
  assert.equal(err.errno, 'EINVAL');
  assert.match(err.message, /rebind-http\.test \(127\.0\.0\.1\) is refused/);
  assert.ok(dns.queries('rebind-http.test') >= 2, 'the name was resolved again after the Mount-time check');
  assert.equal(decoyConnections, 0);
  harness.assertNothingLeft();
});

test('redirects (FollowRedirects on): to a checked host they are followed; to 127.0.0.1 or [::1] → EINVAL, no connection there', async () => {
  const image = `http://stable.test:${http.port}/disk.img`;
  http.switches.redirects = new Map([
    ['/hop', image],
    ['/to-v4-loopback', `http://${LOOPBACK}:${http.port}/disk.img`],
    ['/to-v6-loopback', `http://[::1]:${http.port}/disk.img`],
  ]);
  const { socket, source } = await harness.mount(`http://stable.test:${http.port}/hop`);
  assert.equal(await copyExport(socket, path.join(dir, 'hop.img')), imageSha);
  await source.stop();
  for (const [route, address] of [
    ['/to-v4-loopback', '127\\.0\\.0\\.1'],
    ['/to-v6-loopback', '::1'],
  ] as const) {
    const err = await harness.mountError(`http://stable.test:${http.port}${route}`);
    assert.equal(err.errno, 'EINVAL', route);
    assert.match(err.message, new RegExp(`\\(?${address}\\)? is refused: loopback`), route);
  }
  assert.equal(decoyConnections, 0);
  harness.assertNothingLeft();
});

test('ftp:// to a rebinding name is read from the address checked at Mount; the loopback service sees no connection', async () => {
  const { socket, source } = await harness.mount(`ftp://rebind-ftp.test:${ftp.port}/disk.img`, { credentials: creds });
  assert.equal(await copyExport(socket, path.join(dir, 'ftp.img')), imageSha);
  await source.stop();
  assert.equal(decoyConnections, 0);
  harness.assertNothingLeft();
});

test('sftp:// through the relay: a name mounts (host key checked against the name); a rebinding name → EINVAL, no connection to loopback; no ProxyCommand left', async () => {
  const url = (host: string) => `sftp://${host}:${sshd.port}${dir}/disk.img`;
  const { socket, source } = await harness.mount(url('stable.test'), { credentials: creds, slot: 'Sftp' });
  assert.equal(await copyExport(socket, path.join(dir, 'sftp.img')), imageSha);
  await source.stop();
  const err = await harness.mountError(url('rebind-sftp.test'), { credentials: creds });
  assert.equal(err.errno, 'EINVAL');
  assert.match(err.message, /rebind-sftp\.test \(127\.0\.0\.1\) is refused/);
  assert.equal(decoyConnections, 0);
  assert.deepEqual(processesWithEnv('VMEDIA_SSH_PROXY_RELAY='), [], 'ProxyCommand processes left');
  harness.assertNothingLeft();
});

/** Pids whose environment has a variable starting with `prefix`. */
function processesWithEnv(prefix: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/environ`, 'utf8')
          .split('\0')
          .some((v) => v.startsWith(prefix));
      } catch {
        return false;
      }
    })
    .map(Number);
}
