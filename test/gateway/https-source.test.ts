// https:// sources: a real HTTPS image server (test CA) behind a gateway whose sources file allows
// it. Streamed through, each read is a Range request upstream and the bytes are exact; cached, the
// server is read once; a claimed digest the bytes lack leaves a failed image; a server without
// Range support, a source that changed size and a redirect off the allow-list are refused with the
// reason; without an allow-list the SSRF guard refuses loopback hosts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ImageSources } from '../../src/gateway/sources/image-sources.js';
import { startHttpsImages, type HttpsImages } from '../helpers/https-images.js';
import { startGatewayProcess, type GatewayProcess } from './helpers.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('gateway https:// sources', () => {
  let dir: string;
  let images: HttpsImages;
  let gw: GatewayProcess;
  const image = randomBytes(2 * 1024 * 1024 + 33);
  const imageFile = () => path.join(dir, 'boot.iso');
  let url = '';

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vmedia-https-source-'));
    writeFileSync(imageFile(), image);
    images = await startHttpsImages(dir, { files: new Map([['/images/boot.iso', imageFile()]]) });
    url = `${images.server.origin}/images/boot.iso`;
    const sourcesFile = path.join(dir, 'sources.json');
    writeFileSync(
      sourcesFile,
      JSON.stringify({ AllowedHosts: [`127.0.0.1:${images.server.port}`], CaFile: images.ca.caCertFile }),
    );
    gw = await startGatewayProcess({ extraArgs: ['--sources', sourcesFile] });
  });

  after(async () => {
    await gw?.stop();
    await images?.server.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const register = (body: Record<string, unknown>) => gw.api('/api/images', { method: 'POST', as: 'operator', body });
  const read = (id: string, range?: string) =>
    gw.raw(`/api/images/${id}/content`, { as: 'operator', ...(range ? { headers: { Range: range } } : {}) });

  it('streamed through: each read is the same Range upstream, byte-exact; nothing is copied', async () => {
    const res = await register({ source: url });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.name, 'boot.iso');
    assert.equal(res.json.sha256, sha256(image), 'the bytes were read once for their sha256');
    assert.deepEqual(res.json.source, { url, cached: false });
    const seen = images.server.requests.length;
    const part = await read(res.json.id as string, 'bytes=4096-69631');
    assert.equal(part.status, 206);
    assert.ok(part.body.equals(image.subarray(4096, 69632)), 'byte-exact');
    assert.deepEqual(
      images.server.requests.slice(seen).map((r) => [r.method, r.range]),
      [['GET', 'bytes=4096-69631']],
    );
  });

  it('cached: read once when registered, then served from the copy', async () => {
    const res = await register({ source: url, name: 'boot-copy.iso', cached: true });
    assert.equal(res.status, 201, res.text);
    const seen = images.server.requests.length;
    const whole = await read(res.json.id as string);
    assert.equal(sha256(whole.body), sha256(image));
    assert.equal(images.server.requests.length, seen, 'the server was not asked again');
  });

  it('a claimed sha256 the bytes lack: 422, the image is failed with the reason and never served', async () => {
    const res = await register({ source: url, name: 'claimed.iso', sha256: '0'.repeat(64) });
    assert.equal(res.status, 422, res.text);
    assert.equal(res.json.error.code, 'DigestMismatch');
    const listed = ((await gw.api('/api/images', { as: 'operator' })).json.images as Record<string, string>[]).find(
      (m) => m.name === 'claimed.iso',
    );
    assert.equal(listed?.state, 'failed');
    assert.match(listed.error ?? '', /not 0{64}/);
    assert.equal((await read(listed.id!)).status, 409);
  });

  it('refuses what it cannot stream: no Range support, a source that changed or drops the connection, a redirect off the allow-list', async () => {
    images.server.switches.noRange = true;
    const noRange = await register({ source: url, name: 'norange.iso' });
    images.server.switches.noRange = false;
    assert.equal(noRange.status, 502, noRange.text);
    assert.match(noRange.json.error.message, /does not serve Range requests/);

    const streamed = await register({ source: url, name: 'changes.iso' });
    assert.equal(streamed.status, 201, streamed.text);
    writeFileSync(imageFile(), Buffer.concat([image, Buffer.alloc(512)]));
    const changed = await read(streamed.json.id as string, 'bytes=0-4095');
    writeFileSync(imageFile(), image);
    assert.equal(changed.status, 502, changed.body.toString());
    assert.match(changed.body.toString(), /changed since it was registered/);

    images.server.switches.dropAfterBytes = 100_000;
    const dropped = await register({ source: url, name: 'dropped.iso' });
    images.server.switches.dropAfterBytes = undefined;
    assert.equal(dropped.status, 502, dropped.text);
    assert.match(dropped.json.error.message, /the source (failed while being read|sent \d+ bytes of)/);

    images.server.switches.redirects = new Map([['/images/moved.iso', 'https://localhost:1/boot.iso']]);
    const moved = await register({ source: `${images.server.origin}/images/moved.iso` });
    images.server.switches.redirects = undefined;
    assert.equal(moved.status, 502, moved.text);
    assert.match(moved.json.error.message, /localhost:1 is not among the allowed source hosts/);
  });

  it('without an allow-list the SSRF guard refuses a loopback source; with one, other hosts are refused', async () => {
    await assert.rejects(new ImageSources({}).probe(url, false), {
      code: 'SourceRefused',
      message: /127\.0\.0\.1 is refused: loopback.*list it in the sources file's AllowedHosts/,
    });
    await assert.rejects(
      new ImageSources({ allowedHosts: ['images.example'] }).probe(url, false),
      /127\.0\.0\.1:\d+ is not among the allowed source hosts/,
    );
    await assert.rejects(
      new ImageSources({}).probe('https://user:pw@images.example/boot.iso', false),
      /credentials in a source URL are refused/,
    );
  });
});
