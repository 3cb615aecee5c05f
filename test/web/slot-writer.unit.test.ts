// The bridge's staging writes to the slot socket (src/web/bridge/slot-writer.ts): bytes arrive
// intact and in order whatever the sizes written, at most one write per staging buffer, and once
// the slot socket is gone what still comes is dropped (no loop, nothing held).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { SlotWriter, STAGING_BYTES } from '../../src/web/bridge/slot-writer.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('slot writer', { timeout: 30_000 }, () => {
  it('delivers the bytes in order, copied out of the views (the caller reuses them)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-slot-writer-'));
    const sockPath = path.join(dir, 's.sock');
    const got: Buffer[] = [];
    const server = createServer((c) => c.on('data', (d: Buffer) => got.push(d)));
    await new Promise<void>((r) => server.listen(sockPath, () => r()));
    const sock = connect(sockPath);
    await new Promise((r) => sock.once('connect', r));
    const writes: number[] = [];
    const write = sock.write.bind(sock);
    sock.write = ((chunk: Uint8Array, cb?: () => void) => {
      writes.push(chunk.length);
      return write(chunk, cb);
    }) as typeof sock.write;
    const data = randomBytes(3 * 1024 * 1024 + 123);
    const writer = new SlotWriter(sock);
    const reused = Buffer.alloc(16 * 1024 + 5);
    for (let at = 0; at < data.length; at += reused.length) {
      const n = data.copy(reused, 0, at, at + reused.length);
      writer.write(reused.subarray(0, n));
      reused.fill(0xee); // the next read overwrites the buffer
    }
    await new Promise((r) => setImmediate(r));
    while (got.reduce((s, b) => s + b.length, 0) < data.length) await new Promise((r) => setTimeout(r, 10));
    assert.equal(sha(Buffer.concat(got)), sha(data));
    assert.ok(writes.every((n) => n <= STAGING_BYTES));
    assert.equal(writes.length, Math.ceil(data.length / STAGING_BYTES));
    sock.destroy();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('drops what comes once the slot socket is gone', () => {
    const sock = new Socket();
    sock.destroy();
    const writer = new SlotWriter(sock);
    writer.write(Buffer.alloc(3 * STAGING_BYTES));
    assert.ok(writer.pendingBytes < STAGING_BYTES, `${writer.pendingBytes} bytes held`);
  });
});
