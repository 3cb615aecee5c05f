// One nbdkit server process on a Unix socket: spawn it in the foreground (so we own its life),
// wait until it listens, keep its stderr (the cause of most failures is only written there),
// and stop it leaving no socket or pid file behind.
import { spawn } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { MountError } from '../../errno.js';

export interface NbdkitLaunch {
  /** Everything after the common options: [--filter=..., plugin, key=value...]. */
  args: string[];
  socket: string;
  /** Pid file path; its appearance tells that nbdkit listens (nbdkit writes it after binding). */
  pidFile: string;
  readOnly: boolean;
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

export interface NbdkitExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface NbdkitProcess {
  readonly pid: number;
  /** Everything nbdkit wrote to stderr so far (its error messages). */
  stderr(): string;
  /** Resolves once, when the process has exited. */
  readonly exited: Promise<NbdkitExit>;
  /** SIGTERM, then SIGKILL after 2 s; removes the socket and pid file. Idempotent. */
  stop(): Promise<void>;
}

const NBDKIT = process.env.VMEDIA_NBDKIT ?? 'nbdkit';
const STDERR_KEEP = 64 * 1024;
const KILL_AFTER_MS = 2000;

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
  const child = spawn(NBDKIT, argv, {
    stdio: ['ignore', 'ignore', 'pipe', launch.secretOnFd3 ? 'pipe' : 'ignore'],
    env: { ...withoutProxyVariables(process.env), ...launch.env },
  });
  let stderr = '';
  let partial = '';
  child.stderr!.on('data', (d: Buffer) => {
    const text = d.toString();
    stderr = (stderr + text).slice(-STDERR_KEEP);
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') launch.onStderrLine?.(line);
  });
  // 'close', not 'exit': by then stderr is read to the end, so the cause of a failure is in it
  const exited = new Promise<NbdkitExit>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const secretPipe = child.stdio[3] as Writable | null;
  if (launch.secretOnFd3 && secretPipe) {
    const secret = launch.secretOnFd3;
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
    stopping ??= (async () => {
      if (child.pid !== undefined) {
        let timer: NodeJS.Timeout | undefined;
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
        }
        await exited;
        clearTimeout(timer);
      }
      await cleanup();
    })();
    return stopping;
  };

  const outcome = await Promise.race([
    waitForPidFile(launch.pidFile, launch.startTimeoutMs ?? 10_000).then(
      () => 'listening' as const,
      (e: Error) => e,
    ),
    exited.then((e) => e),
    spawnError.then((e) => e),
  ]);
  if (outcome === 'listening') {
    return { pid: child.pid!, stderr: () => stderr, exited, stop };
  }
  await stop();
  if (outcome instanceof MountError) throw outcome;
  if (outcome instanceof Error) {
    throw new MountError('ECANCELED', `cannot run ${NBDKIT}: ${outcome.message}`, { cause: outcome });
  }
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

/** libcurl obeys http_proxy, ALL_PROXY, NO_PROXY, ... (any case): a proxy, or an exception from
 *  ours, would take connections past the SSRF guard's relay. Where images come from is the config's. */
function withoutProxyVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !/_proxy$/i.test(name)));
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
