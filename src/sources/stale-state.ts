// What a daemon that crashed or was killed left in the sources' state dir: kernel mounts of
// shares, pid and credentials files, nbdkit's sockets behind the read-ahead, the SSRF guard's
// relay sockets and ssh_config files, cache and overlay files, and the Legacy slot sockets
// nbdkit or the read-ahead listened on. nbdkit exits with its parent (--exit-with-parent), but
// one started just before the daemon died can outlive it (./nbdkit/orphans.ts): ended first.
// Cleared once at startup.
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import type { ProcessRunner } from '../process/runner.js';
import { unmountAndRemove } from './schemes/kernel-mount.js';
import { endProcesses, nbdkitsOf } from './nbdkit/orphans.js';

/** How long an outliving nbdkit gets for SIGTERM, and then for SIGKILL. */
const ORPHAN_GRACE_MS = 2000;

export async function clearStaleState(
  stateDir: string,
  tempDir: string,
  log: Logger,
  runner: ProcessRunner,
  /** The Legacy slots' sockets: nbdkit or the read-ahead listened there, and only the sources do. */
  slotSockets: readonly string[],
): Promise<void> {
  const orphans = nbdkitsOf(stateDir);
  await endProcesses(orphans, ORPHAN_GRACE_MS);
  const stale = orphans.map((pid) => `nbdkit (pid ${pid})`);
  for (const socket of slotSockets) {
    if (!existsSync(socket)) continue;
    await rm(socket, { force: true });
    stale.push(socket);
  }
  for (const name of await readdir(stateDir)) {
    const file = path.join(stateDir, name);
    if (name.endsWith('.mnt')) await unmountAndRemove(file, runner);
    else if (['.pid', '.cred', '.sock', '.socks', '.ssh_config'].some((suffix) => name.endsWith(suffix)))
      await rm(file, { force: true });
    else continue;
    stale.push(name);
  }
  for (const name of await readdir(tempDir)) {
    await rm(path.join(tempDir, name), { recursive: true, force: true });
    stale.push(name);
  }
  if (stale.length > 0) log.warn({ stale }, 'cleared what an earlier run of the Legacy sources left behind');
}
