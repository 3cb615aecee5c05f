// The credentials pipe parser and reader (docs/dbus.md) at its limits, on real pipes and
// FIFOs: it never waits for EOF and never blocks the event loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MountError } from '../../src/errno.js';
import { parseCredentials, readCredentials } from '../../src/daemon/credentials-reader.js';

const bytes = (s: string) => new TextEncoder().encode(s);

function einval(fn: () => unknown, reason: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof MountError && err.errno === 'EINVAL' && reason.test(err.message));
}

test('parseCredentials: the limits of §3', () => {
  const max = parseCredentials(bytes(`${'u'.repeat(512)}\0${'p'.repeat(510)}\0`));
  assert.equal(max.user.length, 512);
  assert.equal(max.password.length, 510);
  assert.deepEqual(parseCredentials(bytes('\0\0')), { user: '', password: new Uint8Array() });
  const utf8 = parseCredentials(bytes('jürgen\0pässwort\0'));
  assert.equal(utf8.user, 'jürgen');
  assert.equal(new TextDecoder().decode(utf8.password), 'pässwort');
  einval(() => parseCredentials(bytes(`u\0${'p'.repeat(513)}\0`)), /at most 512 bytes each/);
  einval(() => parseCredentials(bytes(`${'u'.repeat(513)}\0p\0`)), /at most 512 bytes each/);
  einval(() => parseCredentials(bytes(`${'u'.repeat(512)}\0${'p'.repeat(511)}\0`)), /more than 1024 bytes/);
  einval(() => parseCredentials(bytes('user\0pass')), /exactly two NUL/);
  einval(() => parseCredentials(bytes('user\0pass\0x')), /exactly two NUL/);
  einval(() => parseCredentials(bytes('u\0\0\0')), /exactly two NUL/);
  einval(() => parseCredentials(new Uint8Array([0xff, 0xfe, 0, 0x41, 0])), /not UTF-8/);
});

/** Runs fn with a FIFO (and a temp dir for other files) that are removed afterwards. */
async function withFifo(fn: (fifo: string, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-cred-'));
  try {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    await fn(fifo, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test(
  'readCredentials on a FIFO opened O_RDWR (no EOF ever): returns at the second NUL, the event loop keeps running',
  { timeout: 10_000 },
  () =>
    withFifo(async (fifo) => {
      const fd = openSync(fifo, 'r+');
      const writer = openSync(fifo, 'w');
      writeSync(writer, 'adm');
      const reading = readCredentials(fd, 5000);
      // the rest comes from a timer of this same process: a read that blocked the event loop
      // (or waited for EOF) would never see it and the test would time out
      await new Promise((r) => setTimeout(r, 100));
      writeSync(writer, 'in\0secret\0');
      const started = Date.now();
      const creds = await reading;
      assert.ok(Date.now() - started < 2500, 'returned at the second NUL, long before the 5 s wait');
      assert.equal(creds.user, 'admin');
      assert.equal(new TextDecoder().decode(creds.password), 'secret');
      closeSync(writer);
      assert.throws(() => writeSync(fd, 'x'), /EBADF/, 'the reader closed its fd');
    }),
);

test('readCredentials: a sender that never completes the message → EINVAL after the wait, not a hang', () =>
  withFifo(async (fifo) => {
    const fd = openSync(fifo, 'r+');
    writeSync(fd, 'admin\0secret');
    const started = Date.now();
    await assert.rejects(
      readCredentials(fd, 300),
      (err: unknown) => err instanceof MountError && err.errno === 'EINVAL',
    );
    assert.ok(Date.now() - started < 1500);
  }));

test('readCredentials: a regular file is read; a character device is refused', () =>
  withFifo(async (_fifo, dir) => {
    const file = path.join(dir, 'creds');
    const w = openSync(file, 'w', 0o600);
    writeSync(w, 'u\0p\0');
    closeSync(w);
    const creds = await readCredentials(openSync(file, 'r'));
    assert.equal(creds.user, 'u');
    await assert.rejects(readCredentials(openSync('/dev/zero', 'r')), /must be a pipe, FIFO, socket or file/);
  }));
