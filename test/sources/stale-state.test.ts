// What the sources clear at the daemon's start, with real nbdkit processes. One that an earlier
// run started (its --pidfile in the state dir) and that outlived it, its parent now init, is
// ended, whether or not it wrote its pid file yet; its files go too. An nbdkit whose parent runs
// this very program (a live daemon's) runs on, as does one whose pid file lies elsewhere.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { clearStaleState } from '../../src/sources/stale-state.js';
import { createProcessRunner } from '../../src/process/runner.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
let stateDir: string;
let tempDir: string;
const orphans: number[] = [];
let live: ChildProcess | undefined;

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'vmedia-stale-'));
  stateDir = path.join(dir, 'sources');
  tempDir = path.join(stateDir, 'tmp');
  mkdirSync(tempDir, { recursive: true });
});

after(() => {
  live?.kill('SIGKILL');
  for (const pid of orphans.filter(running)) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const nbdkitArgs = (socket: string, pidFile: string) => [
  '--foreground',
  '--newstyle',
  '--unix',
  socket,
  '--pidfile',
  pidFile,
  'null',
];

/**
 * An nbdkit whose parent is gone, as after a daemon killed while it started one: its pid. nbdkit
 * 1.32 asks for SIGTERM when its parent ends (prctl PR_SET_PDEATHSIG, seen with strace), so it
 * must start once its first parent has ended and init has taken it: a subshell that waits, while
 * the shell that started it exits at once.
 */
function orphanedNbdkit(socket: string, pidFile: string): number {
  const script = '(sleep 0.1; exec nbdkit "$@") </dev/null >/dev/null 2>&1 & echo $!';
  const pid = Number(
    execFileSync('bash', ['-c', script, 'bash', ...nbdkitArgs(socket, pidFile)], { encoding: 'utf8' }),
  );
  orphans.push(pid);
  return pid;
}

/** Running, and not a zombie waiting for init to reap it. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

test("an earlier run's orphaned nbdkit is ended (pid file written or not); a live daemon's and another's run on", async () => {
  const orphan = orphanedNbdkit(path.join(stateDir, 'Slot_2.sock'), path.join(stateDir, 'Slot_2.pid'));
  // the same command line, before nbdkit wrote its pid file: it is still found by its arguments
  const early = orphanedNbdkit(path.join(stateDir, 'Slot_3.sock'), path.join(stateDir, 'Slot_3.pid'));
  const elsewhere = path.join(dir, 'elsewhere');
  mkdirSync(elsewhere);
  const other = orphanedNbdkit(path.join(elsewhere, 'other.sock'), path.join(elsewhere, 'other.pid'));
  // a child of this process, as a running daemon's nbdkit is of the daemon
  live = spawn('nbdkit', nbdkitArgs(path.join(stateDir, 'Slot_4.sock'), path.join(stateDir, 'Slot_4.pid')), {
    stdio: 'ignore',
  });
  await waitFor('the four nbdkits to serve', () =>
    [
      ...['Slot_2', 'Slot_3', 'Slot_4'].map((s) => path.join(stateDir, `${s}.pid`)),
      path.join(elsewhere, 'other.pid'),
    ].every((f) => existsSync(f)),
  );
  rmSync(path.join(stateDir, 'Slot_3.pid'));

  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
  await clearStaleState(stateDir, tempDir, log, createProcessRunner(pino({ level: 'silent' })), []);

  assert.deepEqual([orphan, early].map(running), [false, false], 'the orphans were ended before it returned');
  assert.ok(running(other), 'an nbdkit whose pid file is elsewhere runs on');
  assert.ok(live.exitCode === null && live.signalCode === null, "a live daemon's nbdkit runs on");
  assert.deepEqual(readdirSync(stateDir).sort(), ['tmp'], 'pid and socket files removed');
  const [warning] = warnings.map((w) => JSON.parse(w) as { stale: string[]; msg: string });
  assert.ok(warning, 'a warning names what was cleared');
  assert.deepEqual(
    warning.stale.filter((s) => s.startsWith('nbdkit')).sort(),
    [`nbdkit (pid ${orphan})`, `nbdkit (pid ${early})`].sort(),
  );
});
