// A kernel mount (CIFS, NFS) of the directory that holds a Legacy image, under the runtime dir:
// mount with the mount(8) helpers, map their failures to errnos, unmount and remove on teardown.
import { constants } from 'node:os';
import { mkdir, readFile, rmdir } from 'node:fs/promises';
import { release } from 'node:os';
import { MountError, type ErrnoName } from '../../errno.js';
import type { ProcessRunner } from '../../process/runner.js';

export interface KernelMount {
  dir: string;
  /** Unmounts (lazily if busy) and removes the directory. Idempotent. */
  release(): Promise<void>;
}

export interface MountAttempt {
  fstype: 'cifs' | 'nfs';
  /** "//host/share/dir" or "host:/export/dir". */
  device: string;
  options: string[];
}

/** Mounts with the first attempt that works (e.g. SMB 3.1.1, then 3.0); rejects with the last failure's errno. */
export async function kernelMount(
  dir: string,
  attempts: MountAttempt[],
  timeoutMs: number,
  runner: ProcessRunner,
): Promise<KernelMount> {
  const run = mountRunner(runner);
  await unmountIfMounted(dir, runner);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const failures: MountError[] = [];
  for (const a of attempts) {
    const r = await run('mount', ['-t', a.fstype, '-o', a.options.join(','), a.device, dir], timeoutMs);
    if (r.ok) {
      let released: Promise<void> | undefined;
      return { dir, release: () => (released ??= unmountAndRemove(dir, runner)) };
    }
    const failure = classifyMountFailure(a.fstype, r.output);
    failures.push(failure);
    // wrong credentials or a missing path do not get better with another protocol version
    if (failure.errno === 'EACCES' || failure.errno === 'ENOENT') break;
  }
  // a helper killed on timeout may still have got its mount through
  await unmountAndRemove(dir, runner);
  // the first attempt's cause is the telling one (later ones only try older protocol versions)
  const [first] = failures;
  if (!first) throw new MountError('EINVAL', 'no mount attempt');
  const others = failures.slice(1).map((f) => f.message.replace(/^mounting [^:]+: /, ''));
  throw new MountError(
    first.errno,
    others.length > 0 ? `${first.message} (older protocol: ${others.join('; ')})` : first.message,
  );
}

/** Whether the running kernel has (or can load) this file system: listed, or a module for it. */
export async function kernelCanMount(fstype: 'cifs' | 'nfs'): Promise<boolean> {
  const listed = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  if (listed.split('\n').some((l) => l.split('\t').pop() === fstype)) return true;
  const deps = await readFile(`/lib/modules/${release()}/modules.dep`, 'utf8').catch(() => '');
  return new RegExp(`/${fstype}\\.ko(\\.[a-z]+)?:`).test(deps);
}

const ERRNO_NAMES = new Map<number, ErrnoName>(
  (
    [
      'EPERM',
      'ENOENT',
      'EIO',
      'EACCES',
      'EHOSTUNREACH',
      'ENETUNREACH',
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EINVAL',
      'ENXIO',
      'ENOTSUP',
      'EPROTO',
    ] as const
  ).map((n) => [constants.errno[n], n]),
);

/** mount.cifs prints "mount error(13): Permission denied"; mount.nfs prints words only. */
export function classifyMountFailure(fstype: string, output: string): MountError {
  const text = output
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-2)
    .join(' ');
  const what = fstype === 'cifs' ? 'the SMB share' : 'the NFS export';
  const numbered = /mount error\((\d+)\)/.exec(output);
  const byNumber = numbered ? ERRNO_NAMES.get(Number(numbered[1])) : undefined;
  const byText: [RegExp, ErrnoName][] = [
    [/access denied|permission denied/i, 'EACCES'],
    [/no such file or directory|does not exist/i, 'ENOENT'],
    [/connection refused/i, 'ECONNREFUSED'],
    [/timed out/i, 'ETIMEDOUT'],
    [/no route to host|host is down|unreachable/i, 'EHOSTUNREACH'],
    [/protocol not supported|operation not supported/i, 'ENOTSUP'],
  ];
  const errno = byNumber ?? byText.find(([re]) => re.test(output))?.[1] ?? 'EIO';
  return new MountError(errno, `mounting ${what} failed: ${text || 'no message'}`);
}

/** Unmounts whatever is mounted on `dir` (lazily when busy) and removes the directory. */
export async function unmountAndRemove(dir: string, runner: ProcessRunner): Promise<void> {
  await unmountIfMounted(dir, runner);
  await rmdir(dir).catch(() => undefined);
}

/** Unmounts `dir` if something is mounted there (left from a crash, or ours); lazily when busy. */
async function unmountIfMounted(dir: string, runner: ProcessRunner): Promise<void> {
  const run = mountRunner(runner);
  const mounts = await readFile('/proc/self/mounts', 'utf8');
  const escaped = dir.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  if (!mounts.split('\n').some((l) => l.split(' ')[1] === escaped)) return;
  const r = await run('umount', [dir], 30_000);
  if (!r.ok) await run('umount', ['-l', dir], 30_000);
}

/** mount/umount to completion: whether it worked, and what it said (the cause of a failure). */
function mountRunner(runner: ProcessRunner) {
  return async (cmd: string, args: string[], timeoutMs: number): Promise<{ ok: boolean; output: string }> => {
    // the output is classified, not logged: a mount.cifs line may name the share's user
    const r = await runner.run(cmd, args, { timeoutMs, onLine: () => undefined });
    return { ok: r.code === 0, output: `${r.stdout}${r.stderr}${r.timedOut ? '\nmount timed out' : ''}` };
  };
}
