// The media server's access beyond the URL and credentials (a real SQLite file, real HTTPS from
// several loopback addresses): bound to its BMC, an attachment's URL serves only the address the
// BMC's Redfish host is (an IP, or a name as it resolves), 404 to any other even with the right
// credentials; unbound, it serves any. Failed accesses are limited per source address (429 with
// Retry-After) while accesses that pass, the BMC's reads, go on.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { RateLimiter } from '../../src/gateway/api/rate-limit.js';
import { mediaUrl, type MediaAccess } from '../../src/gateway/attachments/access.js';
import { openSqliteStore } from '../../src/gateway/db/sqlite.js';
import type { GatewayStore } from '../../src/gateway/db/store.js';
import { createMediaServer } from '../../src/gateway/media-server/media-server.js';
import { ImageRepository } from '../../src/gateway/repository/image-repository.js';
import { ImageSources } from '../../src/gateway/sources/image-sources.js';
import { SourceImages } from '../../src/gateway/sources/source-images.js';
import { loadTlsIdentity } from '../../src/web/tls.js';
import { httpsJson } from '../helpers/stack.js';
import { storeAttached } from './stored-attachment.js';

describe('gateway media server: URLs bound to their BMC, failed accesses limited', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-gw-bind-'));
  let store: GatewayStore;
  let ca: string;
  const servers: Server[] = [];
  /** Per BMC: its attachment's access and URL on the bound and on the unbound server. */
  const grants: Record<string, { access: MediaAccess; bound: string; unbound: string }> = {};

  const fetch = (url: string, from: string, access?: MediaAccess) =>
    httpsJson(url, ca, '', {
      method: 'HEAD',
      from,
      ...(access ? { auth: { user: access.username, password: access.password } } : {}),
    });

  before(async () => {
    const tls = await loadTlsIdentity({ runtimeDir: dir });
    ca = tls.cert;
    store = openSqliteStore(path.join(dir, 'db.sqlite'));
    const repository = new ImageRepository(path.join(dir, 'images'), 1 << 20);
    const image = await repository.upload(Readable.from([randomBytes(4096)]), { name: 'a.iso', createdBy: 't' });
    const sourceImages = new SourceImages(repository, new ImageSources({}));
    const bases: string[] = [];
    for (const bindToBmc of [true, false]) {
      const failures = new RateLimiter({ perSecond: 0.1, burst: 3 });
      const log = pino({ level: 'silent' });
      const server = createMediaServer({ store, repository, sourceImages, tls, log, bindToBmc, failures });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      servers.push(server);
      bases.push(`https://127.0.0.1:${(server.address() as AddressInfo).port}`);
    }
    for (const [i, [name, host]] of [
      ['by-ip', '127.0.0.2'],
      ['by-name', 'localhost'],
    ].entries()) {
      await store.addBmc({
        name: name!,
        redfishUrl: `https://${host}:1`,
        username: 'u',
        password: 'p',
        caPem: ca,
        createdAt: '',
        createdBy: 't',
      });
      const id = `0000000${i}-0000-4000-8000-000000000000`;
      const access = await storeAttached(store, { id, bmc: name!, device: 'cd', imageId: image.id, createdBy: 't' });
      grants[name!] = {
        access,
        bound: mediaUrl(bases[0]!, access.token, image.name),
        unbound: mediaUrl(bases[1]!, access.token, image.name),
      };
    }
  });

  after(async () => {
    for (const s of servers) s.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves a bound URL to its BMC's address only, an unbound one to any", async () => {
    const ip = grants['by-ip']!;
    assert.equal((await fetch(ip.bound, '127.0.0.2', ip.access)).status, 200, 'the BMC itself');
    assert.equal((await fetch(ip.bound, '127.0.0.3', ip.access)).status, 404, 'another address, right credentials');
    assert.equal((await fetch(ip.unbound, '127.0.0.3', ip.access)).status, 200, 'unbound');
    const named = grants['by-name']!;
    assert.equal((await fetch(named.bound, '127.0.0.1', named.access)).status, 200, 'localhost is 127.0.0.1');
    assert.equal((await fetch(named.bound, '127.0.0.2', named.access)).status, 404);
  });

  it('answers 429 with Retry-After to an address past its failed accesses; a right access passes', async () => {
    const ip = grants['by-ip']!;
    const wrong = { ...ip.access, password: 'guess' };
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(ip.unbound, '127.0.0.5', wrong)).status);
    assert.deepEqual(statuses, [401, 401, 401, 429]);
    const limited = await fetch(ip.unbound, '127.0.0.5', wrong);
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers['retry-after']) >= 1, String(limited.headers['retry-after']));
    assert.equal((await fetch(ip.unbound, '127.0.0.5', ip.access)).status, 200, 'reads that pass are not limited');
    const unknown = `${ip.unbound.replace(/\/media\/[^/]+/, `/media/${'A'.repeat(43)}`)}`;
    for (let i = 0; i < 3; i++) assert.equal((await fetch(unknown, '127.0.0.6')).status, 404);
    assert.equal((await fetch(unknown, '127.0.0.6')).status, 429, 'unknown tokens count too');
    // a BMC whose stale URL was refused past the limit still reads its own
    for (let i = 0; i < 4; i++) await fetch(unknown, '127.0.0.2');
    for (let i = 0; i < 5; i++) assert.equal((await fetch(ip.unbound, '127.0.0.2', ip.access)).status, 200);
  });
});
