// The SSRF guard's SOCKS5 relay on its own: the protocol parser, and over a real Unix socket that
// it is 0600, refuses forbidden targets in every address form (reply 2, nothing connects there),
// names the cause, and leaves no socket behind. Allowed connections are in ssrf-rebinding.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { parseConnectRequest, parseGreeting, SocksError } from '../../src/sources/guards/socks5.js';
import { startSocksRelay, type SocksRelay } from '../../src/sources/guards/socks-relay.js';

const request = (atyp: number, address: number[], port = 443, cmd = 1) =>
  Buffer.from([5, cmd, 0, atyp, ...address, port >> 8, port & 255]);
const name = (text: string) => [text.length, ...Buffer.from(text)];
const ipv6Loopback = [...new Array<number>(15).fill(0), 1];

test('SOCKS5 parser: greeting and CONNECT by name, IPv4 and IPv6; incomplete input waits; unsupported requests get their reply code', () => {
  assert.equal(parseGreeting(Buffer.from([5, 2])), undefined);
  assert.deepEqual(parseGreeting(Buffer.from([5, 2, 2, 0])), { length: 4, noAuthentication: true });
  assert.deepEqual(parseGreeting(Buffer.from([5, 1, 2])), { length: 3, noAuthentication: false });
  assert.throws(() => parseGreeting(Buffer.from([4, 1, 0])), SocksError);

  const byName = request(3, name('images.example'), 8443);
  assert.deepEqual(parseConnectRequest(byName), { host: 'images.example', port: 8443, length: byName.length });
  assert.equal(parseConnectRequest(byName.subarray(0, byName.length - 1)), undefined);
  assert.deepEqual(parseConnectRequest(Buffer.concat([request(1, [192, 0, 2, 2], 80), Buffer.from('GET')])), {
    host: '192.0.2.2',
    port: 80,
    length: 10,
  });
  assert.equal(parseConnectRequest(request(4, ipv6Loopback))?.host, '::1');
  assert.throws(
    () => parseConnectRequest(request(1, [192, 0, 2, 2], 80, 2)),
    (e: unknown) => e instanceof SocksError && e.reply === 7,
  );
  assert.throws(
    () => parseConnectRequest(request(9, [0, 0])),
    (e: unknown) => e instanceof SocksError && e.reply === 8,
  );
});

let dir: string;
let relay: SocksRelay;
let target: net.Server;
let targetPort: number;
let connections = 0;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vmedia-relay-'));
  relay = await startSocksRelay(path.join(dir, 'Slot_0.socks'), pino({ level: 'silent' }));
  target = net.createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  targetPort = (target.address() as net.AddressInfo).port;
});

after(async () => {
  await relay?.close();
  target?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Greeting and `connect` in one write; resolves with the relay's whole answer once it closes. */
function ask(connect: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(relay.socket);
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(chunks)));
    s.write(Buffer.concat([Buffer.from([5, 1, 0]), connect]));
  });
}

test('the relay listens on a 0600 Unix socket', () => {
  assert.equal(statSync(relay.socket).mode & 0o777, 0o600);
});

test('CONNECT to loopback by name, IPv4, IPv6 or v4-mapped IPv6 → reply 2 (not allowed); nothing connects there', async () => {
  const mapped = [...new Array<number>(10).fill(0), 0xff, 0xff, 127, 0, 0, 1];
  for (const [what, connect] of [
    ['localhost', request(3, name('localhost'), targetPort)],
    ['127.0.0.1', request(1, [127, 0, 0, 1], targetPort)],
    ['::1', request(4, ipv6Loopback, targetPort)],
    ['::ffff:7f00:1', request(4, mapped, targetPort)],
  ] as const) {
    const answer = await ask(connect);
    assert.deepEqual([...answer.subarray(0, 4)], [5, 0, 5, 2], what);
    assert.equal(relay.lastFailure()?.errno, 'EINVAL', what);
    assert.match(relay.lastFailure()?.message ?? '', /refused: loopback/, what);
  }
  assert.equal(connections, 0);
});

test('close removes the socket', async () => {
  const other = await startSocksRelay(path.join(dir, 'Slot_1.socks'), pino({ level: 'silent' }));
  await other.close();
  assert.equal(existsSync(other.socket), false);
});
