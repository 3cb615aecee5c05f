// A throwaway PostgreSQL server for tests: Debian's binaries, a cluster in a temp dir owned by the
// `postgres` user (the server refuses to run as root; this runs as root, as the tests do), listening only on a Unix socket in that dir,
// trust authentication (nobody else can reach the 0700 dir).
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { waitFor } from '../helpers/wait.js';

export interface PostgresServer {
  /** For pg and `vmedia gateway --postgres`. */
  connectionString: string;
  stop(): Promise<void>;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const version = existsSync(root) ? readdirSync(root).sort().at(-1) : undefined;
  if (!version) throw new Error('PostgreSQL is not installed (Debian package postgresql; scripts/setup.sh --test)');
  return path.join(root, version, 'bin');
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = binDir();
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-pg-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  chownSync(dir, uid, gid);
  // the server refuses to run as root: both programs run as the postgres user (setuid by Node)
  const asPostgres = { uid, gid, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' } };
  execFileSync(path.join(bin, 'initdb'), ['-D', path.join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync'], {
    ...asPostgres,
    cwd: dir,
    stdio: 'pipe',
  });
  const args = [
    '-D',
    path.join(dir, 'data'),
    '-k',
    dir,
    '-c',
    'listen_addresses=',
    '-c',
    'fsync=off',
    '-c',
    'max_connections=300',
  ];
  const server = spawn(path.join(bin, 'postgres'), args, {
    ...asPostgres,
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  server.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => server.once('close', () => resolve()));
  const stop = async () => {
    if (server.exitCode === null) server.kill('SIGINT');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // the socket appears before the server accepts queries: pg_isready says when it does
    await waitFor(
      () => `PostgreSQL to accept connections in ${dir}:\n${log}`,
      () => {
        if (server.exitCode !== null) throw new Error(`PostgreSQL exited:\n${log}`);
        execFileSync(path.join(bin, 'pg_isready'), ['-q', '-h', dir, '-U', 'postgres'], { stdio: 'ignore' });
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    connectionString: `postgresql://postgres@/postgres?host=${encodeURIComponent(dir)}`,
    stop,
  };
}
