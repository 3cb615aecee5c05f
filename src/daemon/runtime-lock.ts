// One daemon per runtime dir. At start the daemon clears what a crashed run left there (slot
// sockets, nbdkit state, with the kernel backend its gadgets): a second daemon started by
// mistake on the same dir would do that to a live one before failing to own the bus name. So
// the daemon first takes `<run>/daemon.pid`, and keeps it open while it runs.
//
// Node has no flock(2). The file holds the owner's pid, and it counts as held while that process
// has the file open (one of its /proc/PID/fd is this inode), which a reused pid does not. A file
// whose owner is gone (killed, crashed) is taken over. Two daemons taking over the same stale
// file in the same instant could both win; the bus name still stops the second.
import {
  closeSync,
  fstatSync,
  linkSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

export const LOCK_FILE = 'daemon.pid';

export interface RuntimeDirLock {
  /** Closes and removes the lock file (if it is still ours). Idempotent. */
  release(): void;
}

/** Takes `<dir>/daemon.pid`, or throws an error naming the live process that holds it. */
export function lockRuntimeDir(dir: string): RuntimeDirLock {
  const file = path.join(dir, LOCK_FILE);
  // the pid goes in before the file has its name: nobody ever reads a lock file still empty
  const staged = path.join(dir, `.${LOCK_FILE}.${process.pid}`);
  writeFileSync(staged, `${process.pid}\n`, { mode: 0o644 });
  const fd = openSync(staged, 'r');
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(staged, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt === 2) throw err;
      }
      const holder = holderOf(file);
      if (holder !== undefined) {
        throw new Error(
          `the runtime dir ${dir} is in use by another vmedia daemon (pid ${holder}, ${file}); stop it first or give this one its own RuntimeDir`,
        );
      }
      rmSync(file, { force: true }); // its owner is gone
    }
  } catch (err) {
    closeSync(fd);
    throw err;
  } finally {
    rmSync(staged, { force: true });
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      const ours = sameFile(fd, file);
      closeSync(fd);
      if (ours) rmSync(file, { force: true });
    },
  };
}

/** The pid of the live process that holds `file` open, or undefined when nobody does. */
function holderOf(file: string): number | undefined {
  let pid: number;
  let lock: Inode;
  try {
    pid = Number(readFileSync(file, 'utf8').trim());
    lock = statSync(file);
  } catch {
    return undefined; // removed meanwhile: try again
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined; // not a lock any daemon wrote
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch (err) {
    // EACCES: a process of another user; one of ours could not read it either way, so it stands
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : pid;
  }
  for (const fd of fds) {
    try {
      if (sameInode(statSync(`/proc/${pid}/fd/${fd}`), lock)) return pid;
    } catch {
      // closed meanwhile, or not a file
    }
  }
  return undefined;
}

function sameFile(fd: number, file: string): boolean {
  try {
    return sameInode(fstatSync(fd), statSync(file));
  } catch {
    return false;
  }
}

type Inode = { dev: number; ino: number };

function sameInode(a: Inode, b: Inode): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}
