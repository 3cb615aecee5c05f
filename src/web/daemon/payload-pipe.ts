// Bytes that must not travel as a D-Bus string (credentials, the JSON of generated media) reach
// the daemon through a pipe fd passed with the call. Node has no pipe(2), so: a FIFO made 0600
// inside a fresh 0700 directory, opened O_RDWR (never blocks), unlinked at once, and its fd
// passed; nothing of it stays on disk. The payload is written through a non-blocking stream, so
// a payload larger than the pipe's buffer flows while the daemon reads it (the daemon has read it
// all by the time it replies), and the payload buffer is zeroed once written.
import { closeSync, mkdtempSync, openSync, rmSync, constants } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { ProcessRunner } from '../../process/runner.js';

export interface PayloadPipe {
  /** The fd to pass with the call; valid until close(). */
  fd: number;
  /** Call once the daemon has answered: stops writing and closes our end. Idempotent. */
  close(): void;
}

/** Takes ownership of `payload` and zeroes it once written (or on close). */
export async function openPayloadPipe(
  runner: ProcessRunner,
  runtimeDir: string,
  payload: Uint8Array,
): Promise<PayloadPipe> {
  const dir = mkdtempSync(path.join(runtimeDir, 'pipe-'));
  const fifo = path.join(dir, 'pipe');
  let fd: number | undefined;
  let stream: net.Socket;
  try {
    const made = await runner.run('mkfifo', ['-m', '600', fifo], { timeoutMs: 10_000 });
    if (made.code !== 0) throw new Error(`mkfifo failed: ${made.stderr.trim() || `exit code ${made.code}`}`);
    fd = openSync(fifo, constants.O_RDWR);
    // the stream owns the fd from here on: destroying it closes the fd
    stream = new net.Socket({ fd, readable: false, writable: true });
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    payload.fill(0);
    throw err;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // a daemon that refused the call early never reads: the write just stays pending until close()
  stream.on('error', () => undefined);
  stream.write(payload, () => payload.fill(0));
  const opened = fd;
  return {
    fd: opened,
    close() {
      stream.destroy();
      payload.fill(0);
    },
  };
}
