// The HTTPS identity: the configured --cert/--key, or a self-signed certificate generated on
// first start and kept in the runtime dir (key 0600) so browsers can pin it across restarts.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface TlsIdentity {
  cert: string;
  key: string;
  /** Where the certificate is, for clients that must trust it. */
  certPath: string;
}

export async function loadTlsIdentity(opts: { cert?: string; key?: string; runtimeDir: string }): Promise<TlsIdentity> {
  if (opts.cert || opts.key) {
    if (!opts.cert || !opts.key) throw new Error('--cert and --key go together');
    return { cert: readFileSync(opts.cert, 'utf8'), key: readFileSync(opts.key, 'utf8'), certPath: opts.cert };
  }
  const certPath = path.join(opts.runtimeDir, 'web-cert.pem');
  const keyPath = path.join(opts.runtimeDir, 'web-key.pem');
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    const notAfterDate = new Date();
    notAfterDate.setFullYear(notAfterDate.getFullYear() + 5);
    // loaded only to make one (its X.509 code stays out of the web's memory on every later start).
    // Through `default` (module.exports): a CommonJS package split into its own chunk of the
    // production bundle (scripts/bundle.ts) exports nothing else.
    const { generate } = (await import('selfsigned')).default;
    const made = await generate([{ name: 'commonName', value: 'vmedia' }], {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      notAfterDate,
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: 'localhost' },
            { type: 7, ip: '127.0.0.1' },
            { type: 7, ip: '::1' },
          ],
        },
      ],
    });
    writeFileSync(keyPath, made.private, { mode: 0o600 });
    writeFileSync(certPath, made.cert, { mode: 0o644 });
  }
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8'), certPath };
}
