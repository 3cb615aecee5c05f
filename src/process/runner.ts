// The one way vmedia starts a child process (nbdkit, nbd-client, udevadm, mount, openssl,
// dbus-daemon, its own daemon and web), on node:child_process. Every child:
// - gets only the environment it needs: an allowlist plus what the caller names, so no secret of
//   ours (VMEDIA_PASSWORD, a proxy setting, a bus address) reaches it by accident;
// - keeps only fds 0-2 and the pipes the caller asked for (fd 3, 4, …): Node marks its own
//   descriptors close-on-exec, but a native module's are not (usocket's D-Bus socket would
//   live on in nbd-client, which can outlive a crashed daemon and so keep the bus name owned);
// - has its output read line by line (to the log, or to the caller);
// - is killed with SIGKILL when SIGTERM did not end it within the grace period, and is ended
//   when vmedia itself exits (signal-exit: also at a fatal signal no handler of ours takes).
// Not execa: what it adds over child_process is not used here, and it held ≈ 0.8 MiB of every
// process that started a child (the daemon at idle: udevadm monitor, the nbdkit probe).
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { onExit } from 'signal-exit';
import { MountError } from '../errno.js';
import type { Logger } from '../log.js';

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunResult extends ProcessExit {
  stdout: string;
  stderr: string;
  /** True when timeoutMs ended it. */
  timedOut: boolean;
}

export interface RunningProcess {
  readonly pid: number;
  /** Resolves once the process has exited and its output has been read. Never rejects. */
  readonly exited: Promise<ProcessExit>;
  /** True until the process has exited. */
  running(): boolean;
  kill(signal?: NodeJS.Signals): void;
  /** The write end of the extra pipe at this fd (3, 4, …; see StartOptions.pipes). */
  pipe(fd: number): Writable;
}

export interface StartOptions {
  /** Receives each output line instead of the log (e.g. to parse udevadm's stream). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** How many pipes the child gets at fd 3, 4, …, written by the caller (nbdkit reads a password there). */
  pipes?: number;
  /** Variables this child needs beyond the allowlist; undefined values are left out. */
  env?: Record<string, string | undefined>;
  /** The child writes to our stdout and stderr (vmedia start's own processes). */
  inheritOutput?: boolean;
  /** Ended (SIGTERM, then SIGKILL after the grace period) when still running after this long. */
  timeoutMs?: number;
  /** Between SIGTERM and SIGKILL for this child (default KILL_GRACE_MS): longer for a child with a
   *  teardown of its own to finish (the daemon ejecting media). */
  killGraceMs?: number;
}

export interface ProcessRunner {
  /** Resolves once the process runs; rejects with MountError ECANCELED when it cannot start. */
  start(command: string, args: readonly string[], options?: StartOptions): Promise<RunningProcess>;
  /** Runs a command to completion and returns its output too (at most MAX_CAPTURED bytes a stream). */
  run(command: string, args: readonly string[], options?: StartOptions): Promise<RunResult>;
}

/** The variables every child gets from ours, when set: what programs need to run and to speak. */
export const ENV_ALLOWLIST = ['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR'] as const;
/** How long a child has between SIGTERM and SIGKILL. */
export const KILL_GRACE_MS = 5_000;
const MAX_CAPTURED = 64 * 1024;

export function describeExit(exit: ProcessExit): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

/** Closes every descriptor above $1, then execs the command ($0) with the rest (same pid). */
const CLOSE_OTHER_FDS =
  'keep=$1; shift; for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt "$keep" ] && eval "exec $fd>&-"; done; exec "$0" "$@"';

/** Throws ENOENT/EACCES as spawn would, for a command the wrapper shell would fail to exec. */
function assertExecutable(command: string): void {
  const candidates = command.includes('/')
    ? [command]
    : (process.env.PATH ?? '')
        .split(':')
        .filter(Boolean)
        .map((dir) => path.join(dir, command));
  let lastError: unknown = Object.assign(new Error(`${command} not found in PATH`), { code: 'ENOENT' });
  for (const file of candidates) {
    try {
      accessSync(file, constants.X_OK);
      return;
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

export function childEnvironment(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of [...ENV_ALLOWLIST.map((n) => [n, process.env[n]] as const), ...Object.entries(extra)]) {
    if (value !== undefined) env[name] = value;
  }
  return env;
}

function appendCapped(text: string, line: string): string {
  return text.length >= MAX_CAPTURED ? text : (text + line + '\n').slice(0, MAX_CAPTURED);
}

export function createProcessRunner(log: Logger): ProcessRunner {
  async function start(
    command: string,
    args: readonly string[],
    options: StartOptions,
    capture?: { stdout: string; stderr: string },
  ): Promise<{ proc: RunningProcess; timedOut: () => boolean }> {
    const name = path.basename(command);
    try {
      assertExecutable(command);
    } catch (err) {
      throw new MountError('ECANCELED', `cannot start ${command}: ${(err as Error).message}`, { cause: err });
    }
    const pipes = options.pipes ?? 0;
    const output = options.inheritOutput ? 'inherit' : 'pipe';
    const child = spawn('/bin/bash', ['-c', CLOSE_OTHER_FDS, command, String(2 + pipes), ...args], {
      stdio: ['ignore', output, output, ...Array<'pipe'>(pipes).fill('pipe')],
      env: childEnvironment(options.env),
    });
    // a pipe's error (EPIPE: the child did not read it) must not become an uncaught exception
    for (const stream of child.stdio)
      stream?.on('error', (err) => log.debug({ process: name, err: err.message }, 'pipe error'));

    // SIGTERM (kill() or the timeout) is followed by SIGKILL after the grace period; vmedia's
    // own end sends SIGTERM
    let forceKill: NodeJS.Timeout | undefined;
    const terminate = (signal: NodeJS.Signals) => {
      if (!child.kill(signal) || signal !== 'SIGTERM' || forceKill) return;
      forceKill = setTimeout(() => child.kill('SIGKILL'), options.killGraceMs ?? KILL_GRACE_MS);
    };
    let timedOut = false;
    const timeout =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            terminate('SIGTERM');
          }, options.timeoutMs);
    const removeExitHook = onExit(() => {
      child.kill('SIGTERM');
    });
    const settle = () => {
      clearTimeout(timeout);
      clearTimeout(forceKill);
      removeExitHook();
    };
    const exitStatus = new Promise<ProcessExit>((resolve) =>
      child.once('exit', (code, signal) => {
        settle();
        resolve({ code, signal });
      }),
    );

    const streamsDone = options.inheritOutput
      ? []
      : (['stdout', 'stderr'] as const).map((stream) => {
          const lines = createInterface({ input: child[stream]!, crlfDelay: Infinity });
          lines.on('line', (line) => {
            if (capture) capture[stream] = appendCapped(capture[stream], line);
            if (options.onLine) options.onLine(line, stream);
            else log.info({ process: name, pid: child.pid, stream }, line);
          });
          return new Promise<void>((resolve) => lines.once('close', resolve));
        });
    return new Promise((resolve, reject) => {
      child.on('error', (err) => {
        if (child.pid !== undefined) {
          log.warn({ process: name, pid: child.pid, err: err.message }, 'child process error');
          return;
        }
        settle();
        reject(new MountError('ECANCELED', `cannot start ${command}: ${err.message}`, { cause: err }));
      });
      child.once('spawn', () => {
        const exited = Promise.all([exitStatus, ...streamsDone]).then(([exit]) => {
          log.debug({ process: name, pid: child.pid }, describeExit(exit));
          return exit;
        });
        const proc: RunningProcess = {
          pid: child.pid!,
          exited,
          running: () => child.exitCode === null && child.signalCode === null,
          kill: (signal = 'SIGTERM') => {
            if (child.exitCode === null && child.signalCode === null) terminate(signal);
          },
          pipe: (fd) => {
            const stream = child.stdio[fd];
            if (!stream || !('write' in stream)) throw new Error(`${name} has no pipe at fd ${fd}`);
            return stream;
          },
        };
        resolve({ proc, timedOut: () => timedOut });
      });
    });
  }

  return {
    async start(command, args, options = {}) {
      return (await start(command, args, options)).proc;
    },
    async run(command, args, options = {}) {
      const capture = { stdout: '', stderr: '' };
      const { proc, timedOut } = await start(command, args, options, capture);
      const exit = await proc.exited;
      return { ...exit, ...capture, timedOut: timedOut() };
    },
  };
}
