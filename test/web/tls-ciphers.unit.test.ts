// The web's TLS cipher order: AES instructions found in /proc/cpuinfo as x86 and Arm print them,
// and real handshakes (TLS 1.3 and 1.2) against a client that proposes AES-GCM first end with the
// server's choice.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect, createServer, type SecureVersion } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { chooseCiphers, cpuHasAes, type CipherPreference } from '../../src/web/tls-ciphers.js';
import { loadTlsIdentity, type TlsIdentity } from '../../src/web/tls.js';

const X86 = 'processor\t: 0\nflags\t\t: fpu vme sse2 ssse3 pclmulqdq aes avx avx2\n';
const X86_NO_AES = 'processor\t: 0\nflags\t\t: fpu vme sse2 ssse3 avx\n';
const AST2600 =
  'processor\t: 0\nmodel name\t: ARMv7 Processor rev 5 (v7l)\nFeatures\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm\n';
const ARM64 = 'processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid\n';

describe('TLS cipher preference', () => {
  it('reads AES instructions from /proc/cpuinfo (x86 flags, Arm Features)', () => {
    assert.equal(cpuHasAes(X86), true);
    assert.equal(cpuHasAes(X86_NO_AES), false);
    assert.equal(cpuHasAes(AST2600), false);
    assert.equal(cpuHasAes(ARM64), true);
    assert.equal(cpuHasAes('model name: aes-like\n'), false, 'only the flags line counts');
  });

  it('auto prefers ChaCha20-Poly1305 without AES instructions, AES-GCM with them', () => {
    assert.equal(chooseCiphers('auto', () => false).preferred, 'ChaCha20-Poly1305');
    assert.equal(chooseCiphers('auto', () => true).preferred, 'AES-GCM');
    assert.equal(chooseCiphers('chacha20', () => true).preferred, 'ChaCha20-Poly1305');
    assert.equal(chooseCiphers('aes', () => false).preferred, 'AES-GCM');
    assert.equal(chooseCiphers('aes').options.honorCipherOrder, true);
  });

  describe('handshakes', () => {
    let dir: string;
    let identity: TlsIdentity;
    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'vmedia-tls-'));
      identity = await loadTlsIdentity({ runtimeDir: dir });
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    /** The cipher a client that lists AES-GCM first gets from a server with `preference`. */
    async function negotiated(preference: CipherPreference, maxVersion: SecureVersion): Promise<string> {
      const server = createServer({
        cert: identity.cert,
        key: identity.key,
        minVersion: 'TLSv1.2',
        ...chooseCiphers(preference).options,
      });
      server.on('secureConnection', (s) => s.end());
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      const { port } = server.address() as { port: number };
      try {
        return await new Promise<string>((resolve, reject) => {
          const client = connect({
            port,
            host: '127.0.0.1',
            ca: identity.cert,
            servername: 'localhost',
            maxVersion,
            ciphers:
              'TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305',
          });
          client.once('secureConnect', () => {
            resolve(client.getCipher().name);
            client.destroy();
          });
          client.once('error', reject);
        });
      } finally {
        await new Promise((r) => server.close(r));
      }
    }

    it('the server order wins over the client order, in TLS 1.3 and 1.2', async () => {
      assert.equal(await negotiated('chacha20', 'TLSv1.3'), 'TLS_CHACHA20_POLY1305_SHA256');
      assert.equal(await negotiated('aes', 'TLSv1.3'), 'TLS_AES_128_GCM_SHA256');
      assert.equal(await negotiated('chacha20', 'TLSv1.2'), 'ECDHE-ECDSA-CHACHA20-POLY1305');
      assert.equal(await negotiated('aes', 'TLSv1.2'), 'ECDHE-ECDSA-AES128-GCM-SHA256');
    });
  });
});
