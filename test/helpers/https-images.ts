// An HTTPS image server for a test or benchmark, with what a client needs to trust it: a test CA
// made for the run, the server's certificate signed by it, and a TrustStore directory (the
// daemon's and the provider's) holding the CA.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTestCa, type TestCa } from '../sources/helpers/test-ca.js';
import { startImageServer, type ImageServer, type ImageServerOptions } from '../sources/helpers/image-server.js';

export interface HttpsImages {
  ca: TestCa;
  /** A TrustStore directory that trusts `ca`. */
  trustStore: string;
  server: ImageServer;
}

/** Writes the CA to `dir`/ca and the trust store to `dir`/truststore, then starts the server. */
export async function startHttpsImages(dir: string, opts: Omit<ImageServerOptions, 'tls'>): Promise<HttpsImages> {
  const ca = createTestCa(path.join(dir, 'ca'));
  const trustStore = path.join(dir, 'truststore');
  mkdirSync(trustStore);
  writeFileSync(path.join(trustStore, 'test-ca.pem'), ca.caPem);
  const server = await startImageServer({ ...opts, tls: { key: ca.serverKey, cert: ca.serverCert } });
  return { ca, trustStore, server };
}
