// Image credentials reach the daemon only through a pipe fd passed with Mount (`sbh`), carrying
// `user\0password\0`. Node has no pipe(2), so: a FIFO made 0600 inside a fresh 0700 directory,
// opened O_RDWR (never blocks), written (≤ 1026 bytes, below PIPE_BUF, so one atomic write),
// unlinked at once, and its fd passed; nothing of it stays on disk.
import { closeSync, mkdtempSync, openSync, rmSync, writeSync, constants } from 'node:fs';
import path from 'node:path';
import type { ProcessRunner } from '../../process/runner.js';

export interface CredentialsPipe {
  fd: number;
  close(): void;
}

export async function openCredentialsPipe(
  runner: ProcessRunner,
  runtimeDir: string,
  user: string,
  password: string,
): Promise<CredentialsPipe> {
  const dir = mkdtempSync(path.join(runtimeDir, 'cred-'));
  const fifo = path.join(dir, 'pipe');
  let fd: number | undefined;
  const payload = Buffer.concat([
    Buffer.from(user, 'utf8'),
    Buffer.from([0]),
    Buffer.from(password, 'utf8'),
    Buffer.from([0]),
  ]);
  try {
    const made = await runner.run('mkfifo', ['-m', '600', fifo], { timeoutMs: 10_000 });
    if (made.code !== 0) throw new Error(`mkfifo failed: ${made.stderr.trim() || `exit code ${made.code}`}`);
    fd = openSync(fifo, constants.O_RDWR);
    writeSync(fd, payload);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    throw err;
  } finally {
    payload.fill(0);
    rmSync(dir, { recursive: true, force: true });
  }
  const opened = fd;
  let closed = false;
  return {
    fd: opened,
    close() {
      if (!closed) closeSync(opened);
      closed = true;
    },
  };
}
