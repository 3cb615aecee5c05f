// Real Redfish clients against the whole stack: Python sushy (Ironic's library, unmodified,
// Debian's python3-sushy) inserts an HTTPS image into a Legacy slot, reads it back and ejects;
// then Ironic's loop (eject all, insert, GET, eject, GET) 100 times in a row without retries.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startImageServer, type ImageServer } from '../sources/helpers/image-server.js';
import { createTestCa } from '../sources/helpers/test-ca.js';
import { startStack, type Stack } from '../helpers/stack.js';

const CLIENT = fileURLToPath(new URL('./sushy-client.py', import.meta.url));
const ROUNDS = 100;

interface Observed {
  when: string;
  slot: string;
  inserted: boolean;
  image: string | null;
}

describe('sushy (Ironic) against vmedia', { timeout: 240_000 }, () => {
  let stack: Stack;
  let server: ImageServer;
  let dir: string;
  let imageUrl: string;

  /** Runs the sushy client; resolves with its GET observations, rejects with its output on failure. */
  const sushy = (mode: 'once' | 'ironic', rounds = 1): Promise<Observed[]> =>
    new Promise((resolve, reject) => {
      const child = spawn(
        '/usr/bin/python3',
        [CLIENT, stack.baseUrl, stack.operator.user, imageUrl, mode, String(rounds)],
        {
          env: { ...process.env, REQUESTS_CA_BUNDLE: stack.caPath, PYTHONWARNINGS: 'ignore' },
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
      });
      child.stdin.end(`${stack.operator.password}\n`);
      child.once('close', (code) => {
        if (code !== 0) return reject(new Error(`sushy client exited ${code}:\n${err}\n${out.slice(-2000)}`));
        resolve(
          out
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as Observed),
        );
      });
    });

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vmedia-sushy-'));
    const ca = createTestCa(dir);
    const image = path.join(dir, 'deploy.iso');
    writeFileSync(image, Buffer.alloc(2 * 1024 * 1024, 0x42));
    server = await startImageServer({
      files: new Map([['/ironic/deploy.iso', image]]),
      tls: { key: ca.serverKey, cert: ca.serverCert },
      host: '127.0.0.1',
    });
    imageUrl = `${server.origin}/ironic/deploy.iso`;
    stack = await startStack();
    copyFileSync(ca.caCertFile, path.join(stack.trustStore, 'image-server-ca.pem'));
  });
  after(async () => {
    await stack?.stop();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('inserts an HTTPS image, reads it back Inserted with the right Image, ejects it', async () => {
    const seen = await sushy('once');
    assert.deepEqual(seen, [
      { when: 'inserted 0', slot: 'Slot_2', inserted: true, image: imageUrl },
      { when: 'ejected 0', slot: 'Slot_2', inserted: false, image: null },
    ]);
  });

  it(`survives Ironic's eject-all/insert/GET/eject/GET loop ${ROUNDS} times without retries`, async () => {
    const started = Date.now();
    const seen = await sushy('ironic', ROUNDS);
    assert.equal(seen.length, 2 * ROUNDS);
    assert.ok(
      seen.every((s, i) => (i % 2 === 0 ? s.inserted && s.image === imageUrl : !s.inserted && s.image === null)),
    );
    assert.ok(!stack.webOutput().includes(stack.operator.password), 'the web log never holds a password');
    process.stderr.write(`sushy: ${ROUNDS} insert/eject rounds in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  });
});
