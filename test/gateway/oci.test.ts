// oci:// sources against a real registry (registry-fixture.ts: Debian's docker-registry with token
// authentication, TLS from a test CA, blob GETs redirected by 307 to a storage front): a tag
// resolves to its single-layer artifact, the image is streamed through by Range without a local
// copy, storage never sees an Authorization header, a token the registry stops accepting between
// reads is fetched anew, a verified digest is not read again, a blob with the wrong bytes leaves
// a failed image that is never served, and Ironic attaches an oci:// image to a vmedia BMC whose
// export reads it back.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { GatewayProcess } from './helpers.js';
import { BMC, startGatewayWithBmc, type GatewayWithBmc } from './one-bmc.js';
import { startRegistry, writeSourcesFile, type PushedArtifact, type Registry } from './registry-fixture.js';

const run = promisify(execFile);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Image {
  id: string;
  name: string;
  size: number;
  sha256: string;
  state?: string;
  error?: string;
  source?: { url: string; cached: boolean; blobDigest?: string; manifestDigest?: string };
}

describe('gateway oci:// sources on a real registry', () => {
  let dir: string;
  let registry: Registry;
  let bmc: GatewayWithBmc;
  let gw: GatewayProcess;
  let pushed: PushedArtifact;
  let bootId = '';
  const image = randomBytes(3 * 1024 * 1024 + 517);

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vmedia-oci-'));
    registry = await startRegistry(path.join(dir, 'registry'));
    registry.tokenPolicy.expiresIn = 4;
    pushed = await registry.push('vmedia/boot', 'v1', image, 'boot.iso');
    const sourcesFile = writeSourcesFile(registry, dir);
    bmc = await startGatewayWithBmc(['--sources', sourcesFile]);
    gw = bmc.gw;
  });

  after(async () => {
    await bmc?.stop();
    await registry?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const register = (body: Record<string, unknown>) => gw.api('/api/images', { method: 'POST', as: 'operator', body });
  const read = (id: string, range?: string) =>
    // the registering operator owns the images (per-image ACLs: a reader sees only those granted to it)
    gw.raw(`/api/images/${id}/content`, { as: 'operator', ...(range ? { headers: { Range: range } } : {}) });

  it('resolves a tag to its one-layer artifact and streams it through by Range; storage gets no Authorization', async () => {
    const res = await register({ source: `oci://${registry.host}/vmedia/boot:v1` });
    assert.equal(res.status, 201, res.text);
    const meta = res.json as Image;
    bootId = meta.id;
    assert.equal(meta.name, 'boot.iso', 'named by its ORAS title');
    assert.equal(meta.size, image.length);
    assert.equal(meta.sha256, sha256(image));
    assert.deepEqual(meta.source, {
      url: `oci://${registry.host}/vmedia/boot:v1`,
      cached: false,
      blobDigest: pushed.blobDigest,
      manifestDigest: pushed.manifestDigest,
    });
    const verifyReads = registry.storageRequests.length;
    assert.ok(verifyReads >= 1, 'the blob was read (through the 307) to verify its digest');

    const part = await read(bootId, 'bytes=1000000-1999999');
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 1000000-1999999/${image.length}`);
    assert.ok(part.body.equals(image.subarray(1000000, 2000000)), 'the range is byte-exact');
    const whole = await read(bootId);
    assert.equal(whole.status, 200);
    assert.equal(sha256(whole.body), sha256(image));

    const served = registry.storageRequests.slice(verifyReads);
    assert.ok(
      served.some((r) => r.range === 'bytes=1000000-1999999'),
      'the range went upstream as a range',
    );
    assert.deepEqual(
      registry.storageRequests.filter((r) => r.authorization !== undefined),
      [],
      'no Authorization header reached blob storage',
    );
    assert.ok(registry.tokensIssued() >= 1, 'the gateway authenticated with its registry credentials');
    // the registry password and its tokens (JWTs: "eyJ…") are in no answer and no log line
    const listed = (await gw.api('/api/images', { as: 'operator' })).text;
    const audit = (await gw.api('/api/audit')).text;
    for (const text of [listed, audit, gw.output()]) {
      assert.ok(!text.includes(registry.credentials.password), 'no registry password');
      assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{10,}\./, 'no token');
    }
  });

  it('a token whose expires_in is short is renewed before it runs out: no read is refused', async () => {
    const [refused, issued] = [registry.blobRefusals(), registry.tokensIssued()];
    for (let i = 0; i < 10; i++) {
      const res = await read(bootId, `bytes=${i * 4096}-${i * 4096 + 4095}`);
      assert.ok(res.body.equals(image.subarray(i * 4096, i * 4096 + 4096)), `read ${i} byte-exact`);
      await sleep(500);
    }
    // 5 s of reads with tokens that live 4 s, renewed half-way: the registry never refused one
    assert.equal(registry.blobRefusals(), refused, 'no blob GET was refused');
    assert.ok(registry.tokensIssued() > issued, 'tokens were renewed');
  });

  it('a token the registry stops accepting between reads is fetched anew; every read completes', async () => {
    // the registry takes each token 2 s while the token service says 600: only a 401 makes the
    // gateway fetch another (it would keep one that long)
    registry.tokenPolicy.expiresIn = 600;
    registry.tokenPolicy.validFor = 2;
    const [before, refusedBefore] = [registry.tokensIssued(), registry.blobRefusals()];
    const piece = 256 * 1024;
    for (let i = 0; i < 8; i++) {
      const start = i * piece;
      const res = await read(bootId, `bytes=${start}-${start + piece - 1}`);
      assert.equal(res.status, 206, res.body.toString());
      assert.ok(res.body.equals(image.subarray(start, start + piece)), `piece ${i} byte-exact`);
      await sleep(700);
    }
    assert.ok(registry.blobRefusals() > refusedBefore, 'the registry refused a token between reads');
    assert.ok(registry.tokensIssued() - before >= 2, `${registry.tokensIssued() - before} tokens fetched`);
  });

  it('a digest reference to a blob verified before is registered without reading the blob again', async () => {
    const reads = registry.storageRequests.length;
    const res = await register({
      source: `oci://${registry.host}/vmedia/boot@${pushed.manifestDigest}`,
      name: 'pinned.iso',
    });
    assert.equal(res.status, 201, res.text);
    assert.equal((res.json as Image).sha256, sha256(image));
    assert.equal(registry.storageRequests.length, reads, 'storage was not read');
  });

  it('a blob whose bytes lack its digest is refused: the image is failed, says why, and is never served', async () => {
    const bad = randomBytes(300 * 1024);
    const { blobDigest } = await registry.push('vmedia/bad', 'v1', bad, 'bad.iso');
    registry.corruptBlob(blobDigest);
    const res = await register({ source: `oci://${registry.host}/vmedia/bad:v1` });
    assert.equal(res.status, 422, res.text);
    assert.equal(res.json.error.code, 'DigestMismatch');
    assert.match(res.json.error.message, new RegExp(`not ${blobDigest.slice(7)}`));
    const listed = ((await gw.api('/api/images', { as: 'operator' })).json.images as Image[]).find(
      (m) => m.name === 'bad.iso',
    );
    assert.equal(listed?.state, 'failed');
    assert.match(listed?.error ?? '', /never served/);
    const content = await read(listed.id);
    assert.equal(content.status, 409, 'a failed image is not served');
  });

  it('refuses sources it may not or cannot use, with the reason', async () => {
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ source: 'oci://registry.example:5000/vmedia/boot:v1' }, 400, /not among the allowed source hosts/],
      [{ source: `oci://${registry.host}/vmedia/boot` }, 400, /tag .* or a digest/],
      [{ source: `oci://${registry.host}/Vmedia/boot:v1` }, 400, /not a repository name/],
      [{ source: `oci://${registry.host}/vmedia/missing:v1` }, 502, /no such manifest/],
      [{ source: 'http://example.org/boot.iso' }, 400, /https:\/\/ URL or oci:\/\//],
    ];
    for (const [body, status, message] of cases) {
      const res = await register(body);
      assert.equal(res.status, status, `${JSON.stringify(body)}: ${res.text}`);
      assert.match(res.json.error.message, message);
    }
  });

  it('POST /v1/nodes/{node}/vmedia with an oci:// image_url: the BMC export reads back the image', async () => {
    const source = `oci://${registry.host}/vmedia/boot:v1`;
    const res = await gw.api(`/v1/nodes/${BMC}/vmedia`, {
      method: 'POST',
      as: 'operator',
      body: { device_type: 'cdrom', image_url: source, image_download_source: 'http' },
    });
    assert.equal(res.status, 204, `${res.text}\n${gw.output().slice(-3000)}`);
    const socket = bmc.exportSocket('cd');
    const { stdout } = await run('nbdcopy', [`nbd+unix:///?socket=${socket}`, '-'], {
      encoding: 'buffer',
      maxBuffer: 2 * image.length,
    });
    assert.equal(sha256(stdout), sha256(image), 'the BMC serves the registry blob byte for byte');
    // as its owner: a reader not granted the image sees the attachment without its URL (acl.test.ts)
    const listed = (await gw.api(`/v1/nodes/${BMC}/vmedia`, { as: 'operator' })).json.vmedia as {
      image_url: string;
      image_download_source: string;
    }[];
    assert.equal(listed[0]?.image_download_source, 'http');
    assert.equal(listed[0]?.image_url, source);
    const images = (await gw.api('/api/images', { as: 'operator' })).json.images as Image[];
    assert.deepEqual(
      images.filter((m) => m.source?.url === source).map((m) => m.id),
      [bootId],
      'the image registered from this source is reused',
    );
    const detached = await gw.api(`/v1/nodes/${BMC}/vmedia`, { method: 'DELETE', as: 'operator' });
    assert.equal(detached.status, 204, detached.text);
    const failed = await gw.api('/api/attachments', {
      method: 'POST',
      as: 'operator',
      body: { bmc: BMC, device: 'cd', image: 'bad.iso' },
    });
    assert.equal(failed.status, 409, failed.text);
    assert.match(failed.json.error.message, /failed its digest check/);
  });

  it('POST /api/images/{id}/refresh follows a tag that moved: same image, new bytes; 409 while attached', async () => {
    const source = `oci://${registry.host}/vmedia/live:stable`;
    const [first, second, third] = [randomBytes(70_000), randomBytes(80_000), randomBytes(90_000)];
    await registry.push('vmedia/live', 'stable', first, 'live.iso');
    const streamed = (await register({ source })).json as Image;
    const cached = (await register({ source, name: 'live-copy.iso', cached: true })).json as Image;
    assert.equal((await gw.api(`/api/images/${streamed.id}/grants/*`, { method: 'PUT', as: 'operator' })).status, 200);
    const refresh = (id: string, as: 'operator' | 'reader' = 'operator') =>
      gw.api(`/api/images/${id}/refresh`, { method: 'POST', as });

    const reads = registry.storageRequests.length;
    const same = await refresh(streamed.id);
    assert.equal(same.status, 200, same.text);
    assert.equal(same.json.changed, false);
    assert.equal(same.json.image.sha256, sha256(first));
    assert.equal(registry.storageRequests.length, reads, 'an unmoved tag reads no blob');

    const moved = await registry.push('vmedia/live', 'stable', second, 'live.iso');
    for (const image of [streamed, cached]) {
      const res = await refresh(image.id);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.changed, true);
      assert.equal(res.json.previous.sha256, sha256(first));
      const now = res.json.image as Image & { grants: string[] };
      assert.deepEqual(
        [now.id, now.name, now.size, now.sha256, now.source?.blobDigest, now.source?.manifestDigest],
        [image.id, image.name, second.length, sha256(second), moved.blobDigest, moved.manifestDigest],
      );
      assert.equal(sha256((await read(image.id)).body), sha256(second), `${image.name} serves the new bytes`);
    }
    assert.deepEqual(
      ((await gw.api(`/api/images/${streamed.id}`, { as: 'reader' })).json as { grants: string[] }).grants,
      ['*'],
      'the grants stay',
    );
    const audit = (await gw.api('/api/audit')).json.audit as { action: string; detail: string }[];
    assert.equal(audit.filter((e) => e.action === 'refresh').length, 2);
    assert.match(audit.filter((e) => e.action === 'refresh').at(-1)!.detail, new RegExp(`→ ${moved.blobDigest}`));

    // a moved tag with bytes that lack their digest: 422, the image as it was
    const { blobDigest } = await registry.push('vmedia/live', 'stable', third, 'live.iso');
    registry.corruptBlob(blobDigest);
    const corrupt = await refresh(streamed.id);
    assert.equal(corrupt.status, 422, corrupt.text);
    assert.match(corrupt.json.error.message, /is unchanged/);
    assert.equal(((await gw.api(`/api/images/${streamed.id}`)).json as Image).sha256, sha256(second));

    // attached: a BMC reads those bytes, they must not change under it
    const attach = await gw.api('/api/attachments', {
      method: 'POST',
      as: 'operator',
      body: { bmc: BMC, device: 'usb', image: streamed.id },
    });
    assert.equal(attach.status, 202, attach.text);
    await bmc.waitState(attach.json.id as string, 'attached');
    const busy = await refresh(streamed.id);
    assert.equal(busy.status, 409, busy.text);
    assert.match(busy.json.error.message, /is attached .*detach first/);
    assert.equal((await gw.api(`/api/attachments/${attach.json.id as string}`, { method: 'DELETE' })).status, 202);
    await bmc.waitState(attach.json.id as string, 'detached');

    assert.equal((await refresh(streamed.id, 'reader')).status, 403, 'an operator’s');
    const pinned = (await gw.api('/api/images/pinned.iso', { as: 'operator' })).json as Image;
    const notTag = await refresh(pinned.id);
    assert.equal(notTag.status, 400, notTag.text);
    assert.match(notTag.json.error.message, /not registered from an oci:\/\/ tag/);
  });
});
