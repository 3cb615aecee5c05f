// Real file servers for the smb:// and nfs:// sources, for the VM (they need kernel modules and
// root on a throw-away system): Samba's smbd on 127.0.0.1:445 with one user, and the kernel NFS
// server exporting one directory to 127.0.0.1.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from '../../helpers/wait.js';

export interface ShareServers {
  /** Directory shared as smb://127.0.0.1/images/ */
  smbDir: string;
  /** Directory exported as nfs://127.0.0.1<nfsDir>/ */
  nfsDir: string;
  stop(): Promise<void>;
}

const sh = (cmd: string, args: string[], input?: string) =>
  execFileSync(cmd, args, { input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] }).toString();

export async function startShareServers(dir: string, smbUser: string, smbPassword: string): Promise<ShareServers> {
  const d = (n: string) => path.join(dir, n);
  for (const n of ['share', 'export', 'private', 'lock', 'state', 'cache', 'pid', 'ncalrpc', 'bind'])
    mkdirSync(d(n), { recursive: true });
  writeFileSync(
    d('smb.conf'),
    `[global]
  server role = standalone server
  interfaces = lo
  bind interfaces only = yes
  smb ports = 445
  pid directory = ${d('pid')}
  lock directory = ${d('lock')}
  state directory = ${d('state')}
  cache directory = ${d('cache')}
  private dir = ${d('private')}
  ncalrpc dir = ${d('ncalrpc')}
  binddns dir = ${d('bind')}
  passdb backend = tdbsam:${d('private')}/passdb.tdb
  server min protocol = SMB3
  server smb encrypt = desired
  load printers = no
  disable spoolss = yes
[images]
  path = ${d('share')}
  read only = no
  valid users = ${smbUser}
  force user = root
`,
  );
  try {
    sh('id', [smbUser]);
  } catch {
    sh('useradd', ['-M', '-d', '/nonexistent', smbUser]); // the VM's root is a RAM overlay
  }
  sh('smbpasswd', ['-c', d('smb.conf'), '-s', '-a', smbUser], `${smbPassword}\n${smbPassword}\n`);
  // every server runs in the foreground as our child, so stop() ends exactly these processes
  const daemons: ChildProcess[] = [];
  // detached (own session): smbd signals its whole process group when it stops, which would
  // otherwise include this test process
  const daemon = (cmd: string, args: string[]) => {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    daemons.push(child);
  };
  daemon('smbd', ['--foreground', '--no-process-group', '-s', d('smb.conf')]);

  // the clients' modules too: loading them under TCG takes seconds a Mount should not pay
  for (const m of ['nfsd', 'cifs', 'nfs', 'nfsv3']) sh('modprobe', [m]);
  // a second test file in the same VM finds it mounted already (mount(8) then fails)
  if (!readFileSync('/proc/self/mounts', 'utf8').includes(' /proc/fs/nfsd nfsd '))
    sh('mount', ['-t', 'nfsd', 'nfsd', '/proc/fs/nfsd']);
  mkdirSync('/var/lib/nfs/v4recovery', { recursive: true });
  daemon('rpcbind', ['-f', '-w']);
  await waitForPort(111, 20_000);
  sh('exportfs', ['-o', 'ro,no_root_squash,insecure,no_subtree_check,fsid=7', `127.0.0.1:${d('export')}`]);
  daemon('rpc.mountd', ['--foreground']);
  // NFSv3 only: a fresh NFSv4 server holds opens for its grace period (90 s), which a test cannot wait for
  sh('rpc.nfsd', ['-N', '4', '-N', '4.1', '-N', '4.2', '2']);
  await waitForPort(445, 60_000);

  return {
    smbDir: d('share'),
    nfsDir: d('export'),
    async stop() {
      sh('rpc.nfsd', ['0']);
      sh('exportfs', ['-ua']);
      await Promise.all(
        daemons.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', () => resolve());
              child.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const { connect } = await import('node:net');
  const listening = () =>
    new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
  await waitFor(`a listener on port ${port}`, listening, { timeoutMs, intervalMs: 200 });
}
