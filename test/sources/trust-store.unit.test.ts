// The trust store's copy follows the TrustStore directory by itself (its watcher, no refresh()
// call): a CA written there appears in the copy with its hashed link, a removed one goes, a file
// that holds no certificate is ignored. A refresh (every HTTPS mount makes one) never leaves a
// moment in which curl, verifying another slot's server, would find no CA.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
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

/**
 * Reads `file` in a loop on another thread until stop() (as curl in another slot's nbdkit reads
 * the copy while this one refreshes it): how many reads there were and how many found no CA.
 */
function readContinuously(file: string): { stop(): Promise<{ reads: number; misses: number }> } {
  const counts = new Int32Array(new SharedArrayBuffer(12)); // stop flag, reads, misses
  const worker = new Worker(
    `const { readFileSync } = require('node:fs');
     const { workerData: { file, counts } } = require('node:worker_threads');
     while (Atomics.load(counts, 0) === 0) {
       let pem = '';
       try { pem = readFileSync(file, 'utf8'); } catch {}
       Atomics.add(counts, 1, 1);
       if (!pem.includes('-----END CERTIFICATE-----')) Atomics.add(counts, 2, 1);
     }`,
    { eval: true, workerData: { file, counts } },
  );
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  return {
    async stop() {
      Atomics.store(counts, 0, 1);
      await exited;
      return { reads: counts[1]!, misses: counts[2]! };
    },
  };
}

test('refreshes while the copy is read: the CA is there at every read; the same certificates change nothing, another set switches the link', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-truststore-'));
  const log = pino({ level: 'silent' });
  const sourceDir = path.join(dir, 'truststore');
  const copiesDir = path.join(dir, 'capath');
  const [ca, other] = [createTestCa(path.join(dir, 'ca')), createTestCa(path.join(dir, 'other'), 'other CA')];
  const store = await openTrustStore(sourceDir, copiesDir, log, createProcessRunner(log));
  try {
    writeFileSync(path.join(sourceDir, 'ca.pem'), ca.caPem);
    await store.refresh();
    const [link] = hashedLinks(readdirSync(store.capath));
    assert.ok(link, 'the CA has its hashed link');
    const copy = readlinkSync(store.capath);
    await Promise.all([store.refresh(), store.refresh()]);
    assert.equal(readlinkSync(store.capath), copy, 'the same certificates: the same copy');

    const reader = readContinuously(path.join(store.capath, link));
    for (let i = 0; i < 20; i++) {
      // another CA comes and goes: each refresh installs a new copy; the mounts' own refreshes beside it
      if (i % 2 === 0) writeFileSync(path.join(sourceDir, 'other.pem'), other.caPem);
      else rmSync(path.join(sourceDir, 'other.pem'));
      await Promise.all([store.refresh(), store.refresh(), store.refresh()]);
    }
    const { reads, misses } = await reader.stop();
    assert.ok(reads > 1000, `the reader read ${reads} times`);
    assert.equal(misses, 0, `${misses} of ${reads} reads found no CA`);
    assert.equal(readlinkSync(store.capath), copy, 'back to the first set: its copy again');
    assert.deepEqual(readdirSync(copiesDir).sort(), [copy, 'current'].sort(), 'the copies before are gone');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
