// nbdkit processes that an earlier run of the daemon started and that outlived it.
// --exit-with-parent ends nbdkit when the daemon dies, but only from the moment nbdkit has set it
// up: a daemon killed in between leaves an nbdkit whose parent is init, serving a socket nobody
// reaches, for ever (seen after a test that SIGKILLs the daemon while a mount starts). A service
// manager that kills the unit's whole cgroup ends them too; the daemon cannot count on one.
// Found by their --pidfile, which lies in the sources' state dir, whether or not nbdkit got as far
// as writing it. One whose parent runs this very program belongs to a live daemon: not ours to
// end (the runtime dir's lock, src/daemon/runtime-lock.ts, keeps a second daemon out of the dir,
// but not two that take over a dead one's lock in the same instant).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const POLL_MS = 20;

/** The orphaned processes whose `--pidfile` lies in `stateDir`: the nbdkits of an earlier run. */
export function nbdkitsOf(stateDir: string): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return []; // no proc filesystem to look in: starting matters more than these
  }
  // synchronous: it runs once, at start, and awaiting each small file cost 5-16 ms, not 1-4
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // exited meanwhile
    }
    const at = argv.indexOf('--pidfile');
    const pidFile = at >= 0 ? argv[at + 1] : undefined;
    if (pidFile && path.dirname(pidFile) === stateDir && !runsThisProgram(parentOf(entry))) pids.push(Number(entry));
  }
  return pids;
}

function parentOf(pid: string): string {
  try {
    return statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'))[1] ?? '';
  } catch {
    return '';
  }
}

function runsThisProgram(pid: string): boolean {
  try {
    return readlinkSync(`/proc/${pid}/exe`) === readlinkSync('/proc/self/exe');
  } catch {
    return false; // gone, or not ours to read (init): not a daemon of ours
  }
}

/** /proc/PID/stat's fields after the command name (state, ppid, ...), which may hold anything. */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** SIGTERM to each, SIGKILL to those still there after `graceMs`; resolves once none runs. */
export async function endProcesses(pids: readonly number[], graceMs: number): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  // one still running as the daemon starts could remove the socket a new mount made at its path
  if (await allEnded(pids, graceMs)) return;
  signal('SIGKILL');
  await allEnded(pids, graceMs);
}

async function allEnded(pids: readonly number[], timeoutMs: number): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; ;) {
    const running = await Promise.all(pids.map(isRunning));
    if (!running.includes(true)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** A zombie counts as ended: an orphan's reaper is init, which may take its time. */
async function isRunning(pid: number): Promise<boolean> {
  try {
    return statFields(await readFile(`/proc/${pid}/stat`, 'utf8'))[0] !== 'Z';
  } catch {
    return false;
  }
}
