// `vmedia web` as systemd/vmedia-web.service runs it, without systemd: as vmedia-web with no
// capabilities and no new privileges (setpriv), umask 0077, its certificate and users file
// handed over in a credentials dir only that user can read (LoadCredential=), the unit's
// ExecStart arguments, on the system bus. Resolves once it listens.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { hashPassword } from '../../../src/web/auth/passwords.js';
import type { Credentials } from '../../helpers/stack.js';
import { webListening } from '../../helpers/web-listening.js';
import { asUser } from './system-bus.js';

const STATIC_DIR = fileURLToPath(new URL('../../../dist/web/static', import.meta.url));
export const WEB_USER = 'vmedia-web';
/** The unit's own port (bmcweb keeps 443); loopback here. */
export const WEB_LISTEN = '127.0.0.1:4443';
/** Node under TCG on a loaded machine starts slowly. */
const START_TIMEOUT_MS = 120_000;

export interface UnitWeb {
  baseUrl: string;
  operator: Credentials;
  output(): string;
  stop(): Promise<void>;
}

/** `certPem`/`keyPem`: the HTTPS identity (bmcweb's server.pem holds both). */
export async function startUnitWeb(opts: { entry: string; certPem: string; keyPem: string }): Promise<UnitWeb> {
  const operator: Credentials = { user: 'operator', password: 'system-bus-test-password' };
  const credentials = '/run/credentials/vmedia-web.service';
  rmSync(credentials, { recursive: true, force: true });
  mkdirSync(credentials, { recursive: true });
  writeFileSync(path.join(credentials, 'https.pem'), `${opts.certPem}${opts.keyPem}`);
  writeFileSync(
    path.join(credentials, 'users.json'),
    JSON.stringify({
      Users: { [operator.user]: { Role: 'Operator', PasswordHash: await hashPassword(operator.password) } },
    }),
  );
  const { uid, gid } = await idsOf(WEB_USER);
  for (const name of ['https.pem', 'users.json']) {
    chownSync(path.join(credentials, name), uid, gid);
    chmodSync(path.join(credentials, name), 0o400);
  }
  chownSync(credentials, uid, gid);
  chmodSync(credentials, 0o500);

  const [cmd, ...prefix] = asUser(WEB_USER);
  const child = spawn(
    cmd!,
    [
      ...prefix,
      'sh',
      '-c',
      'umask 0077 && exec "$@"',
      'sh',
      process.execPath,
      opts.entry,
      'web',
      '--bus',
      'system',
      '--listen',
      WEB_LISTEN,
      '--runtime-dir',
      '/run/virtual-media',
      '--cert',
      `${credentials}/https.pem`,
      '--key',
      `${credentials}/https.pem`,
      '--users',
      `${credentials}/users.json`,
      '--truststore',
      '/etc/vmedia/truststore',
      '--static',
      STATIC_DIR,
    ],
    {
      env: { PATH: process.env.PATH, VMEDIA_LOG_FORMAT: 'json', CREDENTIALS_DIRECTORY: credentials },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const { baseUrl, output, stop } = await webListening(child, START_TIMEOUT_MS);
  return { baseUrl, operator, output, stop };
}

async function idsOf(user: string): Promise<{ uid: number; gid: number }> {
  const id = async (flag: string) => Number((await promisify(execFile)('id', [flag, user])).stdout.trim());
  return { uid: await id('-u'), gid: await id('-g') };
}
