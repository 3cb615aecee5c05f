// Starts the helper programs of the kernel backend (nbd-client, udevadm) and reports their
// output line by line and their exit. An interface so the backend never calls spawn itself.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { MountError } from '../../errno.js';
import type { Logger } from '../../log.js';

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningProcess {
  readonly pid: number;
  /** Resolves once the process has exited and its output has been read. Never rejects. */
  readonly exited: Promise<ProcessExit>;
  /** True until the process has exited. */
  running(): boolean;
  kill(signal?: NodeJS.Signals): void;
}

export interface StartOptions {
  /** Receives each output line instead of the log (e.g. to parse udevadm's stream). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface ProcessRunner {
  /** Resolves once the process runs; rejects with MountError ECANCELED when it cannot start. */
  start(command: string, args: readonly string[], options?: StartOptions): Promise<RunningProcess>;
  /** Runs a command to completion; its output goes to the log. */
  run(command: string, args: readonly string[]): Promise<ProcessExit>;
}

export function describeExit(exit: ProcessExit): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

/**
 * Closes every descriptor above 2, then execs the command (same pid). Node marks its own
 * descriptors close-on-exec, but a native module's are not: the D-Bus socket of usocket would
 * otherwise live on in nbd-client, which outlives a crashed daemon and so keeps the bus name
 * owned, and a restarted daemon could not take it.
 */
const CLOSE_INHERITED_FDS =
  'for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done; exec "$0" "$@"';

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

export function createProcessRunner(log: Logger): ProcessRunner {
  const runner: ProcessRunner = {
    start(command, args, options = {}) {
      const name = path.basename(command);
      try {
        assertExecutable(command);
      } catch (err) {
        return Promise.reject(
          new MountError('ECANCELED', `cannot start ${command}: ${(err as Error).message}`, { cause: err }),
        );
      }
      const child = spawn('/bin/bash', ['-c', CLOSE_INHERITED_FDS, command, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const streamsDone = (['stdout', 'stderr'] as const).map((stream) => {
        const lines = createInterface({ input: child[stream], crlfDelay: Infinity });
        lines.on('line', (line) => {
          if (options.onLine) options.onLine(line, stream);
          else log.info({ process: name, pid: child.pid, stream }, line);
        });
        return new Promise<void>((resolve) => lines.once('close', resolve));
      });
      const exitStatus = new Promise<ProcessExit>((resolve) => {
        child.once('exit', (code, signal) => resolve({ code, signal }));
      });
      return new Promise((resolve, reject) => {
        child.once('error', (err) => {
          reject(new MountError('ECANCELED', `cannot start ${command}: ${err.message}`, { cause: err }));
        });
        child.once('spawn', () => {
          const exited = Promise.all([exitStatus, ...streamsDone]).then(([exit]) => {
            log.debug({ process: name, pid: child.pid }, describeExit(exit));
            return exit;
          });
          resolve({
            pid: child.pid!,
            exited,
            running: () => child.exitCode === null && child.signalCode === null,
            kill: (signal = 'SIGTERM') => {
              if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            },
          });
        });
      });
    },
    async run(command, args) {
      const proc = await runner.start(command, args);
      return proc.exited;
    },
  };
  return runner;
}
