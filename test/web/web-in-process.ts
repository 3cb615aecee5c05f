// `vmedia web` in this process on a private bus (logins and sessions need no daemon), with an
// admin, an operator and a read-only user, and an HTTPS client that can speak from any loopback
// address (127.0.0.2 is "another client" to the server's per-address accounting).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { hashPassword } from '../../src/web/auth/passwords.js';
import { startWebServer, type WebServerOptions, type WebServer } from '../../src/web/server.js';
import { httpsJson, type Credentials, type HttpResponse, type RequestOptions } from '../helpers/stack.js';
import { startTestBus } from '../helpers/private-bus.js';

/** A request from 127.0.0.1 unless `from` says otherwise. */
export type WebRequest = RequestOptions;

export interface InProcessWeb {
  web: WebServer;
  ca: string;
  admin: Credentials;
  operator: Credentials;
  reader: Credentials;
  /** `extraUsers` more Operators (user-0, user-1, ...): logins not made yet (nothing cached), to time. */
  extra: Credentials[];
  request(pathname: string, opts?: WebRequest): Promise<HttpResponse>;
  stop(): Promise<void>;
}

export async function startWebInProcess(
  opts: Partial<Pick<WebServerOptions, 'throttle' | 'sessionTimeoutSeconds'>> & { extraUsers?: number } = {},
): Promise<InProcessWeb> {
  const { extraUsers = 0, ...webOpts } = opts;
  const bus = await startTestBus();
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-web-'));
  const users = {
    admin: { user: 'root', password: 'admin-Pa55word' },
    operator: { user: 'operator', password: 'operator-Pa55word' },
    reader: { user: 'reader', password: 'reader-Pa55word' },
  };
  // the extra users share one password, so one hash (scrypt takes long on a busy machine)
  const extra = Array.from({ length: extraUsers }, (_, i) => ({ user: `user-${i}`, password: 'extra-Pa55word' }));
  const [adminHash, operatorHash, readerHash, extraHash] = await Promise.all(
    [users.admin, users.operator, users.reader, { password: 'extra-Pa55word' }].map((c) => hashPassword(c.password)),
  );
  const entries = [
    [users.admin.user, { Role: 'Administrator', PasswordHash: adminHash }],
    [users.operator.user, { Role: 'Operator', PasswordHash: operatorHash }],
    [users.reader.user, { Role: 'ReadOnly', PasswordHash: readerHash }],
    ...extra.map((c) => [c.user, { Role: 'Operator', PasswordHash: extraHash }]),
  ];
  const usersFile = path.join(dir, 'users.json');
  writeFileSync(usersFile, JSON.stringify({ Users: Object.fromEntries(entries) }));
  const web = await startWebServer({
    bus: bus.address,
    host: '127.0.0.1',
    port: 0,
    runtimeDir: path.join(dir, 'run'),
    usersFile,
    log: pino({ level: 'silent' }),
    ...webOpts,
  });
  const ca = readFileSync(web.certPath, 'utf8');
  return {
    web,
    ca,
    ...users,
    extra,
    // from 127.0.0.1 by default: the throttle keys on the client's address
    request: (pathname, ro = {}) => httpsJson(web.url, ca, pathname, { from: '127.0.0.1', ...ro }),
    async stop() {
      await web.close();
      await bus.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
