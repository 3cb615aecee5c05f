// The trust store's copy follows the TrustStore directory by itself (its watcher, no refresh()
// call): a CA written there appears in the copy with its hashed link, a removed one goes, a file
// that holds no certificate is ignored.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { createProcessRunner } from '../../src/process/runner.js';
import { openTrustStore } from '../../src/sources/trust-store.js';
import { createTestCa } from './helpers/test-ca.js';

/** Waits (up to 10 s) until the copy's file names satisfy `ok`. */
async function copyBecomes(capath: string, ok: (names: string[]) => boolean): Promise<string[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const names = readdirSync(capath).sort();
    if (ok(names) || Date.now() > deadline) return names;
    await new Promise((r) => setTimeout(r, 25));
  }
}

const hashedLinks = (names: string[]) => names.filter((n) => /^[0-9a-f]{8}\.\d+$/.test(n));

test('the copy follows the TrustStore directory: a CA added, a broken file ignored, a CA removed', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-truststore-'));
  const log = pino({ level: 'silent' });
  const sourceDir = path.join(dir, 'truststore');
  const store = await openTrustStore(sourceDir, path.join(dir, 'capath'), log, createProcessRunner(log));
  try {
    assert.deepEqual(readdirSync(store.capath), []);
    const ca = createTestCa(path.join(dir, 'ca'));
    writeFileSync(path.join(sourceDir, 'site ca.crt'), ca.caPem);
    writeFileSync(path.join(sourceDir, 'notes.txt'), 'no certificate here\n');
    let names = await copyBecomes(store.capath, (n) => hashedLinks(n).length === 1);
    const links = hashedLinks(names);
    assert.equal(links.length, 1, names.join(' '));
    assert.deepEqual(
      names.filter((n) => !links.includes(n)),
      ['site_ca.crt.pem'],
    );
    rmSync(path.join(sourceDir, 'site ca.crt'));
    names = await copyBecomes(store.capath, (n) => n.length === 0);
    assert.deepEqual(names, []);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
