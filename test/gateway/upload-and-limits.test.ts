// Resumable uploads and API rate limits on a real gateway process. An upload session is filled in
// pieces; the gateway is SIGKILLed while a piece is arriving, restarted, asked where to resume
// (HEAD), given the rest; a wrong final digest creates nothing, the right one makes the image,
// whose bytes have the sha256. Rate limits: a token past its burst gets 429 with Retry-After and a
// JSON error while another token goes on; an address past its failed authentications gets 429 even
// with a valid token, another address does not.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { request } from 'node:https';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../helpers/wait.js';
import { startGatewayProcess, type GatewayProcess } from './helpers.js';

const MiB = 1024 * 1024;
const token = () => randomBytes(24).toString('base64url');
const hasty = { token: token(), name: 'hasty', role: 'operator' as const };
const mallory = { token: token(), name: 'mallory', role: 'operator' as const };

describe('gateway resumable uploads and rate limits', () => {
  let gw: GatewayProcess;
  const bytes = randomBytes(3 * MiB);
  const sha256 = createHash('sha256').update(bytes).digest('hex');

  before(async () => {
    gw = await startGatewayProcess({
      extraTokens: [hasty, mallory],
      rateLimitToken: '5/40',
      extraArgs: ['--rate-limit-auth-failures', '0.5/3', '--max-image-mib', '4'],
    });
  });
  after(() => gw?.stop());

  it('resumes a session after the gateway was killed mid-piece, checks the final digest', async () => {
    const opened = await gw.api('/api/uploads?name=r.iso', { method: 'POST', as: 'operator' });
    assert.equal(opened.status, 201, opened.text);
    const id = opened.json.id as string;
    assert.equal(opened.headers.location, `/api/uploads/${id}`);
    assert.equal(opened.headers['upload-offset'], '0');

    const first = await gw.raw(`/api/uploads/${id}`, {
      method: 'PATCH',
      as: 'operator',
      body: bytes.subarray(0, MiB),
      headers: { 'Content-Range': `bytes 0-${MiB - 1}/*` },
    });
    assert.equal(first.status, 204, first.body.toString());
    assert.equal(first.headers['upload-offset'], String(MiB));
    assert.equal(first.headers.range, `0-${MiB - 1}`);
    const stale = await gw.raw(`/api/uploads/${id}`, {
      method: 'PATCH',
      as: 'operator',
      body: bytes.subarray(0, 10),
      headers: { 'Upload-Offset': '0' },
    });
    assert.equal(stale.status, 409);
    assert.equal(stale.headers['upload-offset'], String(MiB), 'a conflict tells where to resume');
    assert.equal((await gw.api(`/api/uploads/${id}`, { method: 'HEAD', as: { token: mallory.token } })).status, 404);

    // the next piece is cut off: the gateway dies once part of it is on disk
    const part = path.join(gw.stateDir, 'images', '.sessions', `${id}.part`);
    const piece = request(new URL(`/api/uploads/${id}`, gw.apiUrl), {
      method: 'PATCH',
      ca: gw.ca,
      headers: { Authorization: `Bearer ${gw.tokens.operator}`, 'Upload-Offset': String(MiB) },
    });
    const cut = new Promise<void>((resolve) => piece.on('error', () => resolve()).on('response', () => resolve()));
    piece.write(bytes.subarray(MiB, 2 * MiB));
    await waitFor('part of the piece on disk', () => statSync(part).size > MiB, { timeoutMs: 30_000 });
    await gw.kill();
    piece.destroy();
    await cut;
    await gw.restart();

    const head = await gw.api(`/api/uploads/${id}`, { method: 'HEAD', as: 'operator' });
    assert.equal(head.status, 200);
    const offset = Number(head.headers['upload-offset']);
    assert.ok(offset > MiB && offset <= 2 * MiB, `resume at ${offset}`);
    assert.equal(head.headers.range, `0-${offset - 1}`);
    const rest = await gw.raw(`/api/uploads/${id}`, {
      method: 'PATCH',
      as: 'operator',
      body: bytes.subarray(offset),
      headers: { 'Upload-Offset': String(offset) },
    });
    assert.equal(rest.status, 204, rest.body.toString());
    assert.equal(rest.headers['upload-offset'], String(bytes.length));

    const wrong = await gw.api(`/api/uploads/${id}?digest=sha256:${'0'.repeat(64)}`, { method: 'PUT', as: 'operator' });
    assert.equal(wrong.status, 422, wrong.text);
    assert.equal(wrong.json.error.code, 'DigestMismatch');
    assert.deepEqual((await gw.api('/api/images', { as: 'operator' })).json.images, [], 'nothing was created');

    const done = await gw.api(`/api/uploads/${id}?digest=sha256:${sha256}`, { method: 'PUT', as: 'operator' });
    assert.equal(done.status, 201, done.text);
    assert.equal(done.json.sha256, sha256);
    assert.equal(done.json.size, bytes.length);
    assert.equal(done.json.createdBy, 'test-operator');
    const content = await gw.raw(`/api/images/${String(done.json.id)}/content`, { as: 'operator' });
    assert.equal(content.status, 200, content.body.toString().slice(0, 200));
    assert.equal(createHash('sha256').update(content.body).digest('hex'), sha256, 'the stored bytes');
    assert.equal((await gw.api(`/api/uploads/${id}`, { method: 'HEAD', as: 'operator' })).status, 404);
    const audit = (await gw.api('/api/audit')).json.audit as { action: string; detail: string }[];
    assert.ok(audit.some((e) => e.action === 'upload' && e.detail.includes(`resumable session ${id}`)));

    const tooBig = await gw.api(`/api/uploads?name=big.iso&size=${5 * MiB}`, { method: 'POST', as: 'operator' });
    assert.equal(tooBig.status, 413, tooBig.text);
  });

  it('limits a token past its burst with 429 and Retry-After, not the other tokens', async () => {
    const statuses: number[] = [];
    let limited;
    for (let i = 0; i < 60 && !limited; i++) {
      const res = await gw.api('/api/images', { as: { token: hasty.token } });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    assert.ok(limited, `no 429 in ${statuses.join(' ')}`);
    assert.ok(statuses.length > 40, `the burst of 40 passed: ${statuses.length - 1} did`);
    const wait = Number(limited.headers['retry-after']);
    assert.ok(wait >= 1, String(limited.headers['retry-after']));
    assert.equal(limited.json.error.code, 'TooManyRequests');
    assert.equal((await gw.api('/api/images', { as: 'reader' })).status, 200, 'another token');
    await sleep(wait * 1000);
    assert.equal((await gw.api('/api/images', { as: { token: hasty.token } })).status, 200, 'after Retry-After');
  });

  it('limits an address past its failed authentications, even with a valid token then', async () => {
    for (let i = 0; i < 3; i++)
      assert.equal((await gw.api('/api/images', { as: { token: token() }, from: '127.0.0.3' })).status, 401);
    const limited = await gw.api('/api/images', { as: 'reader', from: '127.0.0.3' });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    assert.match(limited.json.error.message, /failed authentications from this address/);
    assert.equal((await gw.api('/api/images', { as: 'reader', from: '127.0.0.4' })).status, 200, 'another address');
  });
});
