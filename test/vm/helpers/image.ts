// Test images and what a reader sees of them: random bytes (so a wrong offset cannot match by
// chance) and sha256 of files or whole block devices.
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const MiB = 1 << 20;

/** Writes `bytes` random bytes to `file`; returns their sha256 (hex). */
export async function createRandomImage(file: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const fh = await open(file, 'w');
  try {
    for (let done = 0; done < bytes; done += MiB) {
      const chunk = randomBytes(Math.min(MiB, bytes - done));
      hash.update(chunk);
      await fh.write(chunk);
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

/** sha256 of a whole file or block device, by sha256sum: 3x faster than a Node stream under TCG. */
export async function sha256Of(file: string): Promise<string> {
  const { stdout } = await execFileAsync('sha256sum', ['--', file]);
  const sum = /^[0-9a-f]{64}/.exec(stdout)?.[0];
  if (!sum) throw new Error(`sha256sum ${file}: unexpected output ${JSON.stringify(stdout)}`);
  return sum;
}

/** `length` bytes at `offset` of a file or device. */
export async function readAt(file: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
