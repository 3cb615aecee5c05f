// CA certificates for HTTPS image sources, kept as PEM files in the TrustStore directory that
// the daemon's sources watch. Files are named `<prefix><n>.pem`: prefix "" for the manager's
// Truststore, "<Slot>-" for a slot's Certificates collection (the daemon trusts them all).
// Only CA certificates, and a bounded number per collection: each one widens whom the daemon trusts.
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface StoredCertificate {
  id: string;
  pem: string;
  x509: X509Certificate;
}

/** Certificates one collection may hold. */
const MAX_CERTIFICATES = 32;

export class CertificateRejected extends Error {
  constructor(
    /** invalid: not a (CA) certificate; duplicate: stored already; full: the collection holds MAX_CERTIFICATES. */
    readonly reason: 'invalid' | 'duplicate' | 'full',
    message: string,
  ) {
    super(message);
  }
}

export class TrustStoreDir {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
  }

  list(prefix: string): StoredCertificate[] {
    const pattern = new RegExp(`^${prefix.replace(/[^A-Za-z0-9_]/g, '\\$&')}(\\d+)\\.pem$`);
    const out: StoredCertificate[] = [];
    for (const name of readdirSync(this.dir)) {
      const id = pattern.exec(name)?.[1];
      if (!id) continue;
      try {
        const pem = readFileSync(path.join(this.dir, name), 'utf8');
        out.push({ id, pem, x509: new X509Certificate(pem) });
      } catch {
        // unreadable or not a certificate: someone else's file, not one of ours to show
      }
    }
    return out.sort((a, b) => Number(a.id) - Number(b.id));
  }

  get(prefix: string, id: string): StoredCertificate | undefined {
    return this.list(prefix).find((c) => c.id === id);
  }

  /** Validates and stores one PEM certificate; throws CertificateRejected with the reason. */
  add(prefix: string, pem: string): StoredCertificate {
    const blocks = pem.match(/-----BEGIN [A-Z0-9 ]+-----/g) ?? [];
    if (blocks.length !== 1 || blocks[0] !== '-----BEGIN CERTIFICATE-----') {
      throw new CertificateRejected('invalid', 'CertificateString must hold exactly one PEM certificate (and no key)');
    }
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(pem);
    } catch (err) {
      throw new CertificateRejected('invalid', `not a valid X.509 certificate: ${(err as Error).message}`);
    }
    if (!x509.ca) {
      throw new CertificateRejected(
        'invalid',
        `${x509.subject.replace(/\n/g, ', ')} is not a CA certificate (basicConstraints CA:TRUE): store the CA that signed it`,
      );
    }
    const stored = this.list(prefix);
    const existing = stored.find((c) => c.x509.fingerprint256 === x509.fingerprint256);
    if (existing) throw new CertificateRejected('duplicate', `already stored as ${existing.id}`);
    if (stored.length >= MAX_CERTIFICATES) {
      throw new CertificateRejected('full', `the collection holds the most it may, ${MAX_CERTIFICATES} certificates`);
    }
    const used = new Set(stored.map((c) => Number(c.id)));
    let n = 1;
    while (used.has(n)) n++;
    const normalized = x509.toString();
    writeFileSync(path.join(this.dir, `${prefix}${n}.pem`), normalized, { mode: 0o644 });
    return { id: String(n), pem: normalized, x509 };
  }

  remove(prefix: string, id: string): boolean {
    if (!this.get(prefix, id)) return false;
    rmSync(path.join(this.dir, `${prefix}${id}.pem`), { force: true });
    return true;
  }
}
