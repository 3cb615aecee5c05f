// A certificate authority made with openssl for one test run, and a server certificate it signs
// for localhost, 127.0.0.1 and ::1 (what the image servers of the tests listen on).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface TestCa {
  /** PEM of the CA certificate: what goes into the TrustStore directory. */
  caPem: string;
  caCertFile: string;
  serverKey: string;
  serverCert: string;
}

/** `dnsNames`: more host names the server certificate is for. */
export function createTestCa(dir: string, name = 'vmedia test CA', dnsNames: string[] = []): TestCa {
  mkdirSync(dir, { recursive: true });
  const f = (n: string) => path.join(dir, n);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  ossl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  ossl(
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    f('server.key'),
    '-out',
    f('server.csr'),
  );
  const names = ['localhost', ...dnsNames].map((n) => `DNS:${n}`).join(',');
  writeFileSync(f('server.ext'), `subjectAltName=${names},IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n`);
  ossl(
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.pem'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    f('server.ext'),
    '-out',
    f('server.pem'),
  );
  return {
    caPem: readFileSync(f('ca.pem'), 'utf8'),
    caCertFile: f('ca.pem'),
    serverKey: readFileSync(f('server.key'), 'utf8'),
    serverCert: readFileSync(f('server.pem'), 'utf8'),
  };
}
