// What the Redfish resources and the bridge share: built once by the server.
import type { Router } from 'express';
import type { Logger } from '../log.js';
import type { ProcessRunner } from '../process/runner.js';
import type { Authenticator } from './auth/authenticate.js';
import type { UserSource } from './auth/users.js';
import type { DaemonClient } from './daemon/client.js';
import type { Routes } from './redfish/route.js';
import type { TrustStoreDir } from './trust-store-dir.js';

export interface WebContext {
  router: Router;
  routes: Routes;
  auth: Authenticator;
  /** Who may log in (AccountService lists them). */
  users: UserSource;
  daemon: DaemonClient;
  /** Undefined when no --truststore was given: the certificate collections then refuse to change. */
  trustStore?: TrustStoreDir;
  /** Private scratch space (credential FIFOs live here briefly). */
  runtimeDir: string;
  /** Starts the few helper programs the web needs (mkfifo). */
  runner: ProcessRunner;
  log: Logger;
}
