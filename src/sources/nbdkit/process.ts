// One nbdkit server process on a Unix socket: spawn it in the foreground (so we own its life),
// wait until it listens, keep its stderr (the cause of most failures is only written there),
// and stop it leaving no socket or pid file behind.
import { readFile, rm } from 'node:fs/promises';
import { MountError } from '../../errno.js';
import type { ProcessExit, ProcessRunner } from '../../process/runner.js';

export interface NbdkitLaunch {
  /** Everything after the common options: [--filter=..., plugin, key=value...]. */
  args: string[];
  socket: string;
  /** Pid file path; its appearance tells that nbdkit listens (nbdkit writes it after binding). */
  pidFile: string;
  readOnly: boolean;
  runner: ProcessRunner;
  /** Bytes written to nbdkit's fd 3, then closed: how a password reaches it (`password=-3`)
   *  without touching argv, the environment or the disk. Zeroed once written. */
  secretOnFd3?: Uint8Array;
  /** Added to nbdkit's environment (e.g. TMPDIR for the cache and overlay files). */
  env?: Record<string, string>;
  /** Each complete line nbdkit writes to stderr (errors while serving). */
  onStderrLine?: (line: string) => void;
  /** How long nbdkit may take to start listening. */
  startTimeoutMs?: number;
}

export type NbdkitExit = ProcessExit;

export interface NbdkitProcess {
  readonly pid: number;
  /** Everything nbdkit wrote to stderr so far (its error messages). */
  stderr(): string;
  /** Resolves once, when the process has exited. */
  readonly exited: Promise<NbdkitExit>;
  /** SIGTERM, then SIGKILL after the runner's grace period; removes the socket and pid file. Idempotent. */
  stop(): Promise<void>;
}

const NBDKIT = process.env.VMEDIA_NBDKIT ?? 'nbdkit';
const STDERR_KEEP = 64 * 1024;

export async function startNbdkit(launch: NbdkitLaunch): Promise<NbdkitProcess> {
  await Promise.all([rm(launch.socket, { force: true }), rm(launch.pidFile, { force: true })]);
  const argv = [
    '--foreground',
    '--exit-with-parent',
    '--newstyle',
    '--unix',
    launch.socket,
    '--pidfile',
    launch.pidFile,
    ...(launch.readOnly ? ['--readonly'] : []),
    ...launch.args,
  ];
  let stderr = '';
  // the runner gives nbdkit only the allowlisted environment: no *_proxy variable (libcurl obeys
  // them, and a proxy would take connections past the SSRF guard's relay), no secret of ours
  const child = await launch.runner.start(NBDKIT, argv, {
    pipes: launch.secretOnFd3 ? 1 : 0,
    env: launch.env,
    onLine: (line, stream) => {
      if (stream !== 'stderr') return;
      stderr = (stderr + line + '\n').slice(-STDERR_KEEP);
      if (line.trim() !== '') launch.onStderrLine?.(line);
    },
  });
  if (launch.secretOnFd3) {
    const secret = launch.secretOnFd3;
    const secretPipe = child.pipe(3);
    secretPipe.on('error', () => {
      /* nbdkit died before reading; its exit is reported below */
    });
    secretPipe.end(secret, () => secret.fill(0));
  }

  const cleanup = async () => {
    await Promise.all([rm(launch.socket, { force: true }), rm(launch.pidFile, { force: true })]);
  };
  let stopping: Promise<void> | undefined;
  const stop = () => {
    // SIGTERM; the runner sends SIGKILL when nbdkit is still there after its grace period
    stopping ??= (async () => {
      child.kill('SIGTERM');
      await child.exited;
      await cleanup();
    })();
    return stopping;
  };

  const outcome = await Promise.race([
    waitForPidFile(launch.pidFile, launch.startTimeoutMs ?? 10_000).then(
      () => 'listening' as const,
      (e: Error) => e,
    ),
    child.exited,
  ]);
  if (outcome === 'listening') {
    return { pid: child.pid, stderr: () => stderr, exited: child.exited, stop };
  }
  await stop();
  if (outcome instanceof Error) throw outcome;
  throw new NbdkitStartError(stderr, outcome);
}

/** nbdkit exited before listening: the caller maps its stderr to a cause. */
export class NbdkitStartError extends Error {
  constructor(
    readonly stderr: string,
    readonly exit: NbdkitExit,
  ) {
    super(`nbdkit exited (${exit.signal ?? exit.code}) before listening: ${lastLine(stderr)}`);
    this.name = 'NbdkitStartError';
  }
}

export function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

async function waitForPidFile(pidFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; Date.now() < deadline; delay = Math.min(delay * 2, 100)) {
    const text = await readFile(pidFile, 'utf8').catch(() => '');
    if (/^\d+\n/.test(text)) return;
    await new Promise((r) => setTimeout(r, delay));
  }
  throw new MountError('ETIMEDOUT', `nbdkit did not start listening within ${timeoutMs} ms`);
}
