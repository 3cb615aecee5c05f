// Resumable upload sessions on a real directory: pieces only at the session's offset, the final
// digest checked (a wrong one creates nothing and keeps the session), the sha256 recomputed by a new
// instance (a restarted gateway), the size limits, sessions private to their creator, and expiry
// removing a session's files.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageRepository } from '../../src/gateway/repository/image-repository.js';
import { UploadSessions, type UploadSessionOptions } from '../../src/gateway/repository/upload-session.js';

const alice = { name: 'alice', admin: false };
const bob = { name: 'bob', admin: false };
const admin = { name: 'root', admin: true };
const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('gateway resumable upload sessions', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-gw-sessions-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const fresh = (o: Partial<UploadSessionOptions> = {}) => {
    const repository = new ImageRepository(path.join(dir, `images-${n++}`), 1 << 20);
    const options = { maxBytes: 1 << 20, ttlMs: 60_000, maxOpenPerOwner: 2, ...o };
    return { repository, options, sessions: new UploadSessions(repository, options) };
  };

  it('appends at the offset only, checks the digest, and resumes with a new instance', async () => {
    const { repository, options, sessions } = fresh();
    const bytes = randomBytes(300_000);
    const s = sessions.create({ name: 'r.iso', createdBy: 'alice' });
    assert.equal(await sessions.append(s.id, alice, 0, Readable.from([bytes.subarray(0, 100_000)])), 100_000);
    await assert.rejects(sessions.append(s.id, alice, 0, Readable.from([bytes])), {
      status: 409,
      offset: 100_000,
    });
    // a new instance (a restarted gateway) has no hash state: it hashes the part again
    const again = new UploadSessions(repository, options);
    assert.equal(again.get(s.id, alice).offset, 100_000);
    assert.equal(await again.append(s.id, alice, 100_000, Readable.from([bytes.subarray(100_000)])), 300_000);
    await assert.rejects(again.finish(s.id, alice, digestOf(Buffer.from('other'))), { status: 422 });
    assert.deepEqual(repository.list(), [], 'a wrong digest creates nothing');
    assert.equal(again.get(s.id, alice).offset, 300_000, 'and keeps the session');
    const image = await new UploadSessions(repository, options).finish(s.id, alice, digestOf(bytes));
    assert.equal(image.sha256, digestOf(bytes).slice(7));
    assert.equal(image.size, bytes.length);
    assert.deepEqual(
      repository.list().map((m) => m.id),
      [image.id],
    );
    assert.deepEqual(readdirSync(sessions.dir), [], 'the session is gone');
  });

  it('keeps sessions to their creator and admins, and enforces the sizes', async () => {
    const { sessions } = fresh();
    const s = sessions.create({ name: 's.iso', size: 10, createdBy: 'alice' });
    assert.throws(() => sessions.get(s.id, bob), { status: 404 });
    assert.equal(sessions.get(s.id, admin).name, 's.iso');
    await assert.rejects(sessions.append(s.id, alice, 0, Readable.from([randomBytes(11)])), {
      status: 400,
      message: /opened for 10 bytes/,
    });
    const at = sessions.get(s.id, alice).offset;
    await assert.rejects(sessions.finish(s.id, alice, digestOf(Buffer.alloc(0))), { message: /of its 10 bytes/ });
    await assert.rejects(sessions.append(s.id, alice, at, Readable.from([randomBytes(4)]), 2), {
      message: /longer than its Content-Range/,
    });
    assert.throws(() => sessions.create({ name: 'big.iso', size: (1 << 20) + 1, createdBy: 'alice' }), {
      status: 413,
    });
    const open = sessions.create({ name: 'u.iso', createdBy: 'alice' });
    await assert.rejects(sessions.append(open.id, alice, 0, Readable.from([randomBytes((1 << 20) + 1)])), {
      status: 413,
    });
    assert.throws(() => sessions.create({ name: 'third.iso', createdBy: 'alice' }), { status: 409 });
    assert.throws(() => sessions.create({ name: '.hidden', createdBy: 'bob' }), { status: 400 });
    await sessions.cancel(open.id, alice);
    assert.throws(() => sessions.get(open.id, alice), { status: 404 });
  });

  it('removes a session idle past its TTL, with its bytes', async () => {
    const { sessions } = fresh({ ttlMs: 300 });
    const s = sessions.create({ name: 'e.iso', createdBy: 'alice' });
    await sessions.append(s.id, alice, 0, Readable.from([randomBytes(1000)]));
    assert.deepEqual(readdirSync(sessions.dir).sort(), [`${s.id}.json`, `${s.id}.part`]);
    await sleep(400);
    assert.throws(() => sessions.get(s.id, alice), { status: 404 }, 'expired before the sweep');
    sessions.sweep();
    assert.deepEqual(readdirSync(sessions.dir), []);
  });
});
