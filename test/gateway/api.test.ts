// The gateway's API as a client sees it (a real `vmedia gateway` process): every route refuses a
// missing or wrong token (401) and a role below its own (403); uploads are checked against the
// claimed sha256 and downloaded by Range; bad input gets a clear JSON error.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { HttpResponse } from '../helpers/stack.js';
import { startGatewayProcess, type GatewayProcess, type TokenRole } from './helpers.js';

const ROUTES: [method: string, path: string, least: TokenRole][] = [
  ['GET', '/api/images', 'reader'],
  ['POST', '/api/images?name=x.iso', 'operator'],
  ['GET', '/api/images/x', 'reader'],
  ['GET', '/api/images/x/content', 'reader'],
  ['POST', '/api/images/x/refresh', 'operator'],
  ['DELETE', '/api/images/x', 'admin'],
  ['GET', '/api/bmcs', 'reader'],
  ['POST', '/api/bmcs', 'admin'],
  ['GET', '/api/bmcs/x', 'reader'],
  ['DELETE', '/api/bmcs/x', 'admin'],
  ['GET', '/api/attachments', 'reader'],
  ['POST', '/api/attachments', 'operator'],
  ['GET', '/api/attachments/x', 'reader'],
  ['DELETE', '/api/attachments/x', 'operator'],
  ['GET', '/api/audit', 'admin'],
  ['GET', '/metrics', 'reader'],
  ['POST', '/v1/nodes/x/vmedia', 'operator'],
  ['GET', '/v1/nodes/x/vmedia', 'reader'],
  ['DELETE', '/v1/nodes/x/vmedia', 'operator'],
];
/** The message of an error answer: native {"error":{message}} or Ironic's {"error_message":"{faultstring}"}. */
function errorText(res: HttpResponse): string {
  return String(res.json.error?.message ?? JSON.parse(res.json.error_message as string).faultstring);
}

const BELOW: Record<TokenRole, TokenRole[]> = { reader: [], operator: ['reader'], admin: ['reader', 'operator'] };

describe('vmedia gateway API', () => {
  let gw: GatewayProcess;
  const image = randomBytes(1024 * 1024 + 5);
  const sha256 = createHash('sha256').update(image).digest('hex');

  before(async () => {
    // 2 failed authentications per route: past the default limit per address (rate-limit.test.ts)
    gw = await startGatewayProcess({ extraArgs: ['--rate-limit-auth-failures', '0'] });
  });
  after(() => gw?.stop());

  it('refuses every route without a token or with a wrong one (401), and below its role (403)', async () => {
    for (const [method, path, least] of [...ROUTES, ['GET', '/no/such/route', 'reader'] as const]) {
      const none = await gw.api(path, { method, as: null, body: {} });
      assert.equal(none.status, 401, `${method} ${path} without a token`);
      assert.match(String(none.headers['www-authenticate']), /^Bearer/);
      assert.match(errorText(none), /bearer token is required/);
      const wrong = await gw.api(path, { method, as: { token: randomBytes(24).toString('base64url') }, body: {} });
      assert.equal(wrong.status, 401, `${method} ${path} with a wrong token`);
      for (const role of BELOW[least]) {
        const low = await gw.api(path, { method, as: role, body: {} });
        assert.equal(low.status, 403, `${method} ${path} as ${role}`);
        assert.match(errorText(low), new RegExp(`is ${role}; this needs ${least}`));
      }
    }
  });

  it('stores an upload whose sha256 matches the claim, refuses one that does not, serves Range, deletes', async () => {
    const refused = await gw.raw(`/api/images?name=bad.iso&sha256=${'0'.repeat(64)}`, {
      method: 'POST',
      as: 'operator',
      body: image,
    });
    assert.equal(refused.status, 422);
    assert.match(refused.body.toString(), /DigestMismatch/);

    const uploaded = await gw.raw('/api/images?name=boot.iso', {
      method: 'POST',
      as: 'operator',
      body: image,
      headers: { 'Content-Type': 'application/octet-stream', 'X-Image-Sha256': sha256 },
    });
    assert.equal(uploaded.status, 201, uploaded.body.toString());
    const up = { json: JSON.parse(uploaded.body.toString()) as Record<string, unknown> };
    assert.equal(up.json.sha256, sha256);
    assert.equal(up.json.size, image.length);
    assert.equal(up.json.mediaType, 'application/x-iso9660-image');
    assert.equal(up.json.createdBy, 'test-operator');
    // the uploader owns it (test/gateway/acl.test.ts: who else sees it)
    const list = await gw.api('/api/images', { as: 'operator' });
    assert.deepEqual(
      list.json.images.map((i: { name: string }) => i.name),
      ['boot.iso'],
      'the refused upload is not listed',
    );

    const part = await gw.raw(`/api/images/${String(up.json.id)}/content`, {
      as: 'operator',
      headers: { Range: 'bytes=1048576-' },
    });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 1048576-${image.length - 1}/${image.length}`);
    assert.deepEqual(part.body, image.subarray(1048576));
    assert.equal((await gw.api('/api/images/boot.iso', { as: 'operator' })).json.id, up.json.id, 'found by name too');

    assert.equal((await gw.api(`/api/images/${String(up.json.id)}`, { method: 'DELETE' })).status, 204);
    assert.equal((await gw.api(`/api/images/${String(up.json.id)}`)).status, 404);
    const audit = await gw.api('/api/audit');
    assert.deepEqual(
      audit.json.audit.map((e: { who: string; action: string }) => `${e.who} ${e.action}`),
      ['test-operator upload', 'test-admin delete'],
    );
  });

  it('answers bad input with a clear JSON error', async () => {
    const cases: [string, string, unknown, number, RegExp][] = [
      ['POST', '/api/images?name=.hidden', 'x', 400, /name/],
      ['POST', '/api/images?name=a.iso&sha256=xyz', 'x', 400, /sha256/],
      ['POST', '/api/bmcs', '{not json', 400, /request body/],
      ['POST', '/api/bmcs', { name: 'b', redfishUrl: 'http://10.0.0.1' }, 400, /redfishUrl/],
      [
        'POST',
        '/api/bmcs',
        { name: 'b', redfishUrl: 'https://10.0.0.1', username: 'u', password: 'p', caPem: 'x' },
        400,
        /caPem/,
      ],
      ['POST', '/api/attachments', { bmc: 'nope', device: 'cd', image: 'i' }, 404, /BMC nope/],
      ['POST', '/api/attachments', { bmc: 'nope' }, 400, /device/],
      ['DELETE', '/api/attachments/nope', undefined, 404, /attachment nope/],
    ];
    for (const [method, path, body, status, message] of cases) {
      // an upload's bytes (a JSON body to /api/images registers a source instead)
      const headers: Record<string, string> = path.startsWith('/api/images')
        ? { 'Content-Type': 'application/octet-stream' }
        : {};
      const res = await gw.api(path, { method, body, headers });
      assert.equal(res.status, status, `${method} ${path}: ${res.text}`);
      assert.match(res.json.error.message, message);
    }
    const ironic = await gw.api('/v1/nodes/n/vmedia', {
      method: 'POST',
      body: { device_type: 'cdrom', image_url: 'x', image_download_source: 'swift' },
    });
    assert.equal(ironic.status, 400);
    assert.match(errorText(ironic), /image_download_source/);
  });
});
