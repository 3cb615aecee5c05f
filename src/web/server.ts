// `vmedia web`: the HTTPS frontend. Redfish + cookie login + the page's static files on one
// Express app (app.ts, loaded on the first request), the WebSocket NBD bridge on the same port.
// Talks to the daemon over D-Bus only.
import type { RequestListener } from 'node:http';
import { createServer } from 'node:https';
import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '../log.js';
import type { AppOptions } from './app.js';
import { Authenticator } from './auth/authenticate.js';
import { PasswordChecker } from './auth/password-checker.js';
import { SessionStore } from './auth/sessions.js';
import { DEFAULT_THROTTLE, LoginThrottle, type ThrottleOptions } from './auth/throttle.js';
import { PamUsers } from './auth/pam.js';
import { DEFAULT_ADMIN, UserDirectory, type UserSource } from './auth/users.js';
import { NbdBridge } from './bridge/endpoint.js';
import type { SpliceOptions } from './bridge/splice.js';
import { DaemonClient } from './daemon/client.js';
import { loadTlsIdentity } from './tls.js';
import { chooseCiphers, type CipherPreference } from './tls-ciphers.js';
import { createProcessRunner } from '../process/runner.js';

export interface WebServerOptions {
  /** The bus the daemon is on: "system", "session" or a D-Bus address. */
  bus: string;
  host: string;
  /** 0 picks a free port (see WebServer.port). */
  port: number;
  /** Self-signed certificate, generated password file and credential FIFOs live here. */
  runtimeDir: string;
  cert?: string;
  key?: string;
  /** Users file; without it the single admin `root` (password: VMEDIA_PASSWORD or generated). */
  usersFile?: string;
  /** PAM service (a file of /etc/pam.d): the BMC's users log in through PAM instead of a users file. */
  pamService?: string;
  /** Directory of CA PEMs shared with the daemon's HTTPS sources. */
  trustStore?: string;
  /** The page (index.html + bundle); served at / when the directory exists. */
  staticDir?: string;
  sessionTimeoutSeconds?: number;
  throttle?: ThrottleOptions;
  splice?: SpliceOptions;
  /** Which TLS cipher leads the server's order (default auto: ChaCha20 without AES instructions). */
  tlsCipherPreference?: CipherPreference;
  /** Largest request body accepted. */
  bodyLimitBytes?: number;
  log?: Logger;
  env?: NodeJS.ProcessEnv;
}

export interface WebServer {
  url: string;
  port: number;
  /** The HTTPS certificate clients must trust. */
  certPath: string;
  /** Set for the default admin: the user name and where its password is (never the password). */
  defaultAdmin?: { user: string; passwordSource: string };
  close(): Promise<void>;
}

export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const log = opts.log ?? createLogger('vmedia-web');
  mkdirSync(opts.runtimeDir, { recursive: true, mode: 0o700 });
  const tls = await loadTlsIdentity({ cert: opts.cert, key: opts.key, runtimeDir: opts.runtimeDir });
  const runner = createProcessRunner(log);
  let users: UserSource;
  let defaultAdmin: WebServer['defaultAdmin'];
  if (opts.pamService) {
    users = new PamUsers(runner, opts.pamService);
  } else if (opts.usersFile) {
    users = UserDirectory.fromFile(opts.usersFile);
  } else {
    const made = await UserDirectory.defaultAdmin(opts.runtimeDir, opts.env);
    users = made.users;
    defaultAdmin = { user: DEFAULT_ADMIN, passwordSource: made.passwordSource };
  }
  const auth = new Authenticator(
    new PasswordChecker(users),
    new SessionStore(opts.sessionTimeoutSeconds ?? 1800),
    new LoginThrottle(opts.throttle ?? DEFAULT_THROTTLE),
  );
  const daemon = await DaemonClient.connect(opts.bus);

  const staticDir = opts.staticDir && existsSync(opts.staticDir) ? opts.staticDir : undefined;
  if (!staticDir) {
    log.warn(
      { staticDir: opts.staticDir },
      'no page to serve (run scripts/build.sh); Redfish and the bridge work without it',
    );
  }
  const appOptions: AppOptions = {
    auth,
    users,
    daemon,
    runtimeDir: opts.runtimeDir,
    runner,
    log,
    ...(opts.trustStore ? { trustStore: opts.trustStore } : {}),
    ...(staticDir ? { staticDir } : {}),
    ...(opts.bodyLimitBytes ? { bodyLimitBytes: opts.bodyLimitBytes } : {}),
  };
  // Express and the Redfish resources load with the first request (app.ts says why)
  let app: Promise<RequestListener> | undefined;
  const handle: RequestListener = (req, res) => {
    app ??= import('./app.js').then(({ createApp }) => createApp(appOptions));
    app.then(
      (listener) => listener(req, res),
      (err: unknown) => {
        log.error({ err: String(err) }, 'the web app failed to load');
        res.statusCode = 500;
        res.end();
      },
    );
  };

  const ciphers = chooseCiphers(opts.tlsCipherPreference ?? 'auto');
  const server = createServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2', ...ciphers.options }, handle);
  const bridge = new NbdBridge({ daemon, auth, log, ...(opts.splice ? { splice: opts.splice } : {}) });
  server.on('upgrade', (req, socket, head) => {
    if (!bridge.handleUpgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `https://${host}:${port}`;
  log.info({ url, cipher: ciphers.preferred }, 'web frontend listening');

  return {
    url,
    port,
    certPath: tls.certPath,
    ...(defaultAdmin ? { defaultAdmin } : {}),
    async close() {
      await bridge.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      daemon.disconnect();
    },
  };
}
