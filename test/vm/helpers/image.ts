// Test images and what a reader sees of them: random bytes (so a wrong offset cannot match by
// chance) and sha256 of files or whole block devices.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

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

/** sha256 of a whole file or block device, read sequentially in 1 MiB chunks. */
export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: MiB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
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
