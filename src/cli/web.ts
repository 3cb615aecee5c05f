// `vmedia web`: the HTTPS frontend (Redfish, cookie login, the page, the WebSocket NBD bridge).
// Prints where it listens, the admin user and where its password is (never the password).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';
import { createLogger } from '../log.js';
import { startWebServer, type WebServer } from '../web/server.js';
import { CIPHER_PREFERENCES, type CipherPreference } from '../web/tls-ciphers.js';
import { collectWhenIdle } from './idle-gc.js';
import type { PlainCommand, StringOptions } from './plain-argv.js';
import { stopOnSignal } from './stop-on-signal.js';

const CHECKOUT = fileURLToPath(new URL('../../', import.meta.url));

interface WebArgs {
  bus: string;
  listen: string;
  cert?: string;
  key?: string;
  users?: string;
  'pam-service'?: string;
  truststore?: string;
  'runtime-dir'?: string;
  static: string;
  'tls-cipher-preference': CipherPreference;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new Error(`--listen ${listen}: expected HOST:PORT, e.g. 127.0.0.1:8443`);
  return { host: m[1] ?? m[2]!, port };
}

async function runWeb(args: WebArgs): Promise<void> {
  const log = createLogger('vmedia-web');
  let listen: { host: string; port: number };
  try {
    listen = parseListen(args.listen);
  } catch (err) {
    process.stderr.write(`vmedia web: ${(err as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const runtimeDir = path.resolve(args['runtime-dir'] ?? process.env.VMEDIA_RUNTIME_DIR ?? path.join(CHECKOUT, 'run'));
  let web: WebServer;
  try {
    web = await startWebServer({
      bus: args.bus,
      ...listen,
      runtimeDir,
      log,
      ...(args.cert ? { cert: args.cert } : {}),
      ...(args.key ? { key: args.key } : {}),
      ...(args.users ? { usersFile: args.users } : {}),
      ...(args['pam-service'] ? { pamService: args['pam-service'] } : {}),
      ...(args.truststore ? { trustStore: args.truststore } : {}),
      staticDir: args.static,
      tlsCipherPreference: args['tls-cipher-preference'],
    });
  } catch (err) {
    // bad users file, unreadable certificate, port in use, no bus: say which, no stack trace
    process.stderr.write(`vmedia web: ${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  const lines = [`vmedia web listening on ${web.url}`, `  certificate: ${web.certPath}`];
  if (web.defaultAdmin)
    lines.push(`  user: ${web.defaultAdmin.user}, password from ${web.defaultAdmin.passwordSource}`);
  process.stdout.write(`${lines.join('\n')}\n`);

  stopOnSignal(() => web.close(), log);
  collectWhenIdle();
}

const webOptions = {
  bus: { type: 'string', default: 'system', describe: "the daemon's bus: system, session or a D-Bus address" },
  listen: { type: 'string', default: '127.0.0.1:8443', describe: 'HOST:PORT (port 0 picks a free one)' },
  cert: { type: 'string', describe: 'TLS certificate (PEM); default: self-signed, kept in the runtime dir' },
  key: { type: 'string', describe: 'TLS private key (PEM), with --cert' },
  users: { type: 'string', describe: 'users file (JSON, scrypt hashes); default: admin "root"' },
  'pam-service': {
    type: 'string',
    conflicts: 'users',
    describe: "log the BMC's users in through this PAM service (e.g. webserver, as bmcweb); roles from priv-* groups",
  },
  truststore: { type: 'string', describe: "directory for CA PEMs added via Redfish (the daemon's TrustStore)" },
  'runtime-dir': {
    type: 'string',
    describe: 'certificate, generated password, scratch (default $VMEDIA_RUNTIME_DIR or run/)',
  },
  'tls-cipher-preference': {
    type: 'string',
    choices: CIPHER_PREFERENCES,
    default: 'auto',
    describe: 'cipher the server prefers: auto (ChaCha20-Poly1305 when the CPU has no AES instructions), aes, chacha20',
  },
  static: { type: 'string', default: path.join(CHECKOUT, 'dist/web/static'), describe: 'the page to serve at /' },
} as const satisfies StringOptions;

/** What the unit runs (src/cli/plain-argv.ts: without yargs). */
export const webPlain: PlainCommand<WebArgs> = { options: webOptions, run: runWeb };

export const webCommand: CommandModule<object, WebArgs> = {
  command: 'web',
  describe: 'serve Redfish VirtualMedia, the page and the WebSocket NBD bridge over HTTPS',
  builder: (y) => y.options(webOptions),
  handler: (args) => runWeb(args),
};
