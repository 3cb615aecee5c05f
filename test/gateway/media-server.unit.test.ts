// The media server on its own (a real SQLite file, real images, real HTTPS): a token URL serves
// its attachment's image with that attachment's credentials only; revoked, expired and unknown
// URLs are refused; Range works; bytes served are counted.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { mediaUrl, newMediaAccess, type MediaAccess } from '../../src/gateway/attachments/access.js';
import { openSqliteStore } from '../../src/gateway/db/sqlite.js';
import type { GatewayStore } from '../../src/gateway/db/store.js';
import { createMediaServer } from '../../src/gateway/media-server/media-server.js';
import { ImageRepository, type ImageMetadata } from '../../src/gateway/repository/image-repository.js';
import { ImageSources } from '../../src/gateway/sources/image-sources.js';
import { SourceImages } from '../../src/gateway/sources/source-images.js';
import { loadTlsIdentity } from '../../src/web/tls.js';
import { waitFor } from '../helpers/wait.js';
import { storeAttached } from './stored-attachment.js';

interface Fetched {
  status: number;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

describe('gateway media server', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-gw-media-'));
  let store: GatewayStore;
  let server: Server;
  let base: string;
  let ca: string;
  const images: { meta: ImageMetadata; bytes: Buffer }[] = [];
  const grants: { id: string; access: MediaAccess; url: string }[] = [];

  const fetch = (url: string, opts: { auth?: string; range?: string; method?: string } = {}) =>
    new Promise<Fetched>((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
      if (opts.range) headers.Range = opts.range;
      request(url, { ca, headers, method: opts.method ?? 'GET' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }),
        );
      })
        .on('error', reject)
        .end();
    });
  const creds = (g: { access: MediaAccess }) => `${g.access.username}:${g.access.password}`;

  before(async () => {
    const tls = await loadTlsIdentity({ runtimeDir: dir });
    ca = tls.cert;
    store = openSqliteStore(path.join(dir, 'db.sqlite'));
    const repository = new ImageRepository(path.join(dir, 'images'), 1 << 30);
    for (const name of ['a.iso', 'b.img']) {
      const bytes = randomBytes(3 * 1024 * 1024 + 17);
      images.push({ meta: await repository.upload(Readable.from([bytes]), { name, createdBy: 't' }), bytes });
    }
    await store.addBmc({
      name: 'bmc',
      redfishUrl: 'https://127.0.0.1:1',
      username: 'u',
      password: 'p',
      caPem: ca,
      createdAt: '',
      createdBy: 't',
    });
    const sourceImages = new SourceImages(repository, new ImageSources({}));
    server = createMediaServer({ store, repository, sourceImages, tls, log: pino({ level: 'silent' }) });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const [i, device] of (['cd', 'usb'] as const).entries()) {
      const id = `0000000${i}-0000-4000-8000-000000000000`;
      const access = await storeAttached(store, {
        id,
        bmc: 'bmc',
        device,
        imageId: images[i]!.meta.id,
        createdBy: 't',
      });
      grants.push({ id, access, url: mediaUrl(base, access.token, images[i]!.meta.name) });
    }
  });

  after(async () => {
    server?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves each URL's own image, whole and by Range, and counts the bytes", async () => {
    for (const [i, g] of grants.entries()) {
      const whole = await fetch(g.url, { auth: creds(g) });
      assert.equal(whole.status, 200);
      assert.equal(createHash('sha256').update(whole.body).digest('hex'), images[i]!.meta.sha256);
      const part = await fetch(g.url, { auth: creds(g), range: 'bytes=1048576-1049599' });
      assert.equal(part.status, 206);
      assert.equal(part.headers['content-range'], `bytes 1048576-1049599/${images[i]!.bytes.length}`);
      assert.deepEqual(part.body, images[i]!.bytes.subarray(1048576, 1049600));
      const head = await fetch(g.url, { auth: creds(g), method: 'HEAD' });
      assert.equal(head.headers['content-length'], String(images[i]!.bytes.length));
      assert.equal(head.headers['accept-ranges'], 'bytes');
      assert.equal((await fetch(g.url, { auth: creds(g), range: 'bytes=99999999-' })).status, 416);
      // a response's bytes are counted when it ends on the server, which the client may see first
      const served = images[i]!.bytes.length + 1024;
      await waitFor(`attachment ${g.id} to count ${served} bytes`, async () => {
        return (await store.getAttachment(g.id))?.bytesServed === served;
      });
    }
  });

  it("refuses a URL without its own attachment's credentials, and another image's name under a token", async () => {
    const [a, b] = grants as [(typeof grants)[0], (typeof grants)[0]];
    assert.equal((await fetch(a.url)).status, 401);
    assert.equal((await fetch(a.url, { auth: creds(b) })).status, 401);
    assert.equal((await fetch(a.url, { auth: `${a.access.username}:wrong` })).status, 401);
    const swapped = mediaUrl(base, a.access.token, images[1]!.meta.name);
    assert.equal((await fetch(swapped, { auth: creds(a) })).status, 404);
    const unknown = mediaUrl(base, newMediaAccess(a.id).token, images[0]!.meta.name);
    assert.equal((await fetch(unknown, { auth: creds(a) })).status, 404);
  });

  it('answers 410 once an attachment is detached or its URL expired', async () => {
    const [a, b] = grants as [(typeof grants)[0], (typeof grants)[0]];
    await store.updateAttachment(a.id, { expiresAt: Date.now() - 1 });
    assert.equal((await fetch(a.url, { auth: creds(a) })).status, 410);
    await store.updateAttachment(b.id, { state: 'detached', expiresAt: null });
    assert.equal((await fetch(b.url, { auth: creds(b) })).status, 410);
  });
});
