// The web's users file (docs/runtime-files.md), read and changed by `vmedia user`: validated by
// the web's own loader, changed under a lock file so two operators do not lose each other's
// change, and replaced atomically (a temp file beside it, fsync, rename), so the web never reads
// half a file. A new file is 0600; a replaced one keeps its owner, group and mode (never any
// permission for others), so a file the web's own user reads stays readable to it.
import {
  closeSync,
  fchmodSync,
  fchownSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserDirectory, type Role } from '../web/auth/users.js';
import { CliError, EXIT } from './operator-exit.js';

export interface UserEntry {
  Role: Role;
  PasswordHash: string;
}

export type UsersTable = Record<string, UserEntry>;

/** How long a command waits for another one's lock before giving up. */
const LOCK_WAIT_MS = 10_000;

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** The users, or undefined when the file does not exist. A file the web would refuse is exit 2. */
export function readUsersFile(file: string): UsersTable | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw new CliError(EXIT.failed, `cannot read the users file: ${(err as Error).message}`);
  }
  try {
    UserDirectory.fromFile(file);
  } catch (err) {
    throw new CliError(EXIT.invalid, (err as Error).message);
  }
  return (JSON.parse(text) as { Users: UsersTable }).Users;
}

function statOrUndefined(file: string): Stats | undefined {
  try {
    return statSync(file);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw err;
  }
}

function writeAtomically(file: string, text: string): void {
  const replaced = statOrUndefined(file);
  const temp = `${file}.tmp-${process.pid}`;
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    if (replaced && process.getuid?.() === 0) fchownSync(fd, replaced.uid, replaced.gid);
    fchmodSync(fd, replaced ? replaced.mode & 0o660 : 0o600);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temp, file);
  } catch (err) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw err;
  }
  // the rename itself must reach the disk too
  const dirFd = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

export function writeUsersFile(file: string, users: UsersTable): void {
  const sorted = Object.fromEntries(Object.entries(users).sort(([a], [b]) => a.localeCompare(b)));
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o750 });
    writeAtomically(file, `${JSON.stringify({ Users: sorted }, null, 2)}\n`);
  } catch (err) {
    throw new CliError(EXIT.failed, `cannot write the users file: ${(err as Error).message}`);
  }
}

/** Whether the lock's holder is gone (a crashed command), so the lock may be taken over. */
function lockAbandoned(lock: string): boolean {
  let text: string;
  try {
    text = readFileSync(lock, 'utf8');
  } catch {
    return false; // released meanwhile: just try again
  }
  const pid = Number(text.trim());
  if (text === '' || !Number.isInteger(pid) || pid <= 0) return false; // being written
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return errnoOf(err) === 'ESRCH';
  }
}

/** Runs `change` holding `<file>.lock` (with our pid; a lock whose process is gone is taken over). */
export async function withUsersFileLock<T>(file: string, change: () => T): Promise<T> {
  const lock = `${file}.lock`;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o750 });
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (err) {
      if (errnoOf(err) !== 'EEXIST')
        throw new CliError(EXIT.failed, `cannot lock the users file: ${(err as Error).message}`);
    }
    if (lockAbandoned(lock)) rmSync(lock, { force: true });
    else if (Date.now() > deadline) throw new CliError(EXIT.failed, `the users file is locked (${lock}); retry later`);
    else await sleep(100);
  }
  try {
    return change();
  } finally {
    rmSync(lock, { force: true });
  }
}
