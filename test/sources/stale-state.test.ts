// What the sources clear at the daemon's start, with real nbdkit processes: one started by an
// earlier run (its --pidfile in the state dir) that outlived it is ended, whether or not it wrote
// its pid file yet; an nbdkit of anyone else runs on. Its pid and socket files go too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { clearStaleState } from '../../src/sources/stale-state.js';
import { createProcessRunner } from '../../src/process/runner.js';
import { waitFor } from '../helpers/wait.js';

let dir: string;
let stateDir: string;
let tempDir: string;
const started: ChildProcess[] = [];

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'vmedia-stale-'));
  stateDir = path.join(dir, 'sources');
  tempDir = path.join(stateDir, 'tmp');
  mkdirSync(tempDir, { recursive: true });
});

after(() => {
  for (const child of started) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** An nbdkit as the daemon starts one (the null plugin: nothing to serve). */
function nbdkit(socket: string, pidFile: string): ChildProcess {
  const child = spawn('nbdkit', ['--foreground', '--newstyle', '--unix', socket, '--pidfile', pidFile, 'null'], {
    stdio: 'ignore',
  });
  started.push(child);
  return child;
}

const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

test('an nbdkit of an earlier run is ended (pid file written or not); another nbdkit runs on', async () => {
  const orphan = nbdkit(path.join(stateDir, 'Slot_2.sock'), path.join(stateDir, 'Slot_2.pid'));
  // the same command line, before nbdkit wrote its pid file: it is still found by its arguments
  const early = nbdkit(path.join(stateDir, 'Slot_3.sock'), path.join(stateDir, 'Slot_3.pid'));
  const elsewhere = path.join(dir, 'elsewhere');
  mkdirSync(elsewhere);
  const other = nbdkit(path.join(elsewhere, 'other.sock'), path.join(elsewhere, 'other.pid'));
  await waitFor(
    'the three nbdkits to serve',
    () =>
      ['Slot_2.pid', 'Slot_3.pid'].every((f) => existsSync(path.join(stateDir, f))) &&
      existsSync(path.join(elsewhere, 'other.pid')),
  );
  rmSync(path.join(stateDir, 'Slot_3.pid'));

  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });
  await clearStaleState(stateDir, tempDir, log, createProcessRunner(pino({ level: 'silent' })), []);

  // clearStaleState returns once they are gone: their exit is the next thing this process sees
  await waitFor("the exits of the earlier run's nbdkits", () => !running(orphan) && !running(early), {
    timeoutMs: 1000,
  });
  assert.ok(running(other), 'an nbdkit whose pid file is elsewhere runs on');
  assert.deepEqual(readdirSync(stateDir).sort(), ['tmp'], 'pid and socket files removed');
  const [warning] = warnings.map((w) => JSON.parse(w) as { stale: string[]; msg: string });
  assert.ok(warning, 'a warning names what was cleared');
  assert.deepEqual(
    warning.stale.filter((s) => s.startsWith('nbdkit')).sort(),
    [`nbdkit (pid ${orphan.pid})`, `nbdkit (pid ${early.pid})`].sort(),
  );
});
