// A real OpenSSH sshd (Debian openssh-server) for the sftp:// source test: its own host key, config,
// pid file and log in a temp dir, on a free loopback port (127.0.0.1 and ::1), SFTP only
// (internal-sftp), password logins only. The login is a test user with a known password; so that no
// system user or password changes, sshd runs in a private mount namespace where copies of
// /etc/passwd and /etc/shadow with that user added are bind-mounted over the real ones (and a
// tmpfs over /run gives sshd its privilege separation directory).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { waitFor } from '../../helpers/wait.js';

export interface Sshd {
  port: number;
  /** sshd's host key as a known_hosts line for the server reached at `host` (e.g. 127.0.0.1, ::1). */
  knownHostsLine(host: string): string;
  /** What sshd logged so far (stderr, LogLevel VERBOSE). */
  log(): string;
  /** Kills the processes serving the open connections (a server restart, as the client sees it); returns how many. */
  dropConnections(): number;
  close(): Promise<void>;
}

export interface SshdOptions {
  /** Empty directory for sshd's files. */
  dir: string;
  user: string;
  password: string;
  /** The user's home directory (readable by the user). */
  home: string;
  /** Addresses to listen on; default 127.0.0.1 and ::1. */
  listen?: string[];
}

const SSHD = '/usr/sbin/sshd';

export async function startSshd(opts: SshdOptions): Promise<Sshd> {
  const dir = opts.dir;
  mkdirSync(dir, { recursive: true });
  const hostKey = path.join(dir, 'host_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'vmedia-test', '-f', hostKey]);
  const publicKey = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');

  const uid = freeUid();
  const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: opts.password }).toString().trim();
  writeFileSync(
    path.join(dir, 'passwd'),
    `${readFileSync('/etc/passwd', 'utf8')}${opts.user}:x:${uid}:${uid}::${opts.home}:/bin/sh\n`,
  );
  writeFileSync(
    path.join(dir, 'shadow'),
    `${readFileSync('/etc/shadow', 'utf8')}${opts.user}:${hash}:19000:0:99999:7:::\n`,
    { mode: 0o600 },
  );

  const port = await freePort();
  const listen = opts.listen ?? ['127.0.0.1', '::1'];
  const config = path.join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      ...listen.map((address) => `ListenAddress ${address}`),
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'UsePAM no',
      'AuthenticationMethods password',
      'PasswordAuthentication yes',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin no',
      `AllowUsers ${opts.user}`,
      'Subsystem sftp internal-sftp',
      'ForceCommand internal-sftp',
      'StrictModes no',
      'UseDNS no',
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );

  // $1..$3: the passwd and shadow copies and the config (paths never go through the shell's parser)
  const script =
    'mount -t tmpfs -o mode=755 tmpfs /run && mkdir -m 755 /run/sshd' +
    ' && mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/shadow && exec "$4" -D -e -f "$3"';
  const child = spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--',
      '/bin/sh',
      '-c',
      script,
      'sh',
      path.join(dir, 'passwd'),
      path.join(dir, 'shadow'),
      config,
      SSHD,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await waitListening(child, () => log, port, listen, exited);
  const namespace = readlinkSync(`/proc/${child.pid}/ns/mnt`);
  // close() ends every process in this namespace: it must be sshd's own, never ours
  if (namespace === readlinkSync('/proc/self/ns/mnt')) {
    child.kill('SIGKILL');
    throw new Error("sshd runs in the test's own mount namespace");
  }

  return {
    port,
    knownHostsLine: (host) => `[${host}]:${port} ${publicKey}`,
    log: () => log,
    dropConnections: () => killInNamespace(namespace, (pid) => pid !== child.pid),
    async close() {
      // the per-connection sshd processes live in the same mount namespace; sshd's listener does not end them
      killInNamespace(namespace, () => true);
      await exited;
    },
  };
}

async function waitListening(
  child: ChildProcess,
  log: () => string,
  port: number,
  addresses: string[],
  exited: Promise<void>,
): Promise<void> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const listening = (addr: string) => log().includes(`Server listening on ${addr} port ${port}.`);
  const up = () => addresses.every(listening);
  // a time-out is reported below, with sshd's log
  await waitFor('sshd to listen', () => up() || gone, { timeoutMs: 10_000 }).catch(() => undefined);
  if (!gone && up()) return;
  child.kill('SIGKILL');
  throw new Error(`sshd did not start listening on port ${port}: ${log().trim() || '(no output)'}`);
}

/** A uid that no system user has (the test user's files then belong to nobody real). */
function freeUid(): number {
  const used = new Set(
    readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((l) => Number(l.split(':')[2])),
  );
  let uid = 64_123;
  while (used.has(uid)) uid++;
  return uid;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** SIGTERM to the processes of `namespace` that `which` picks; returns how many got it. */
function killInNamespace(namespace: string, which: (pid: number) => boolean): number {
  let killed = 0;
  for (const pid of readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map(Number)) {
    try {
      if (readlinkSync(`/proc/${pid}/ns/mnt`) !== namespace || !which(pid)) continue;
      process.kill(pid, 'SIGTERM');
      killed++;
    } catch {
      /* exited meanwhile */
    }
  }
  return killed;
}
