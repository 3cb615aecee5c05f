// Makes a read-only export writable without touching the user's file (a page cannot write
// back to a picked File): written blocks live in this page's memory and are lost on Stop,
// like a QEMU snapshot=on drive. The overlay is capped so a big write cannot exhaust memory.
import { NbdError, type BlockBackend } from '../nbd/backend.js';

const BLOCK = 4096;

export interface OverlayOptions {
  /** most bytes of written blocks kept; beyond it writes fail with ENOSPC */
  maxBytes: number;
}

export function overlayBackend(base: BlockBackend, opts: OverlayOptions): BlockBackend {
  const blocks = new Map<number, Uint8Array>();
  // Writes are read-modify-write of whole blocks; running them one at a time keeps two
  // partial writes into the same block from overwriting each other.
  let writing: Promise<unknown> = Promise.resolve();

  async function blockForWrite(index: number): Promise<Uint8Array> {
    const held = blocks.get(index);
    if (held) return held;
    if ((blocks.size + 1) * BLOCK > opts.maxBytes) {
      throw new NbdError('ENOSPC', `writable overlay is full (${opts.maxBytes} bytes)`);
    }
    const start = index * BLOCK;
    const block = new Uint8Array(BLOCK);
    block.set(await base.read(start, Math.min(BLOCK, base.size - start)));
    blocks.set(index, block);
    return block;
  }

  async function writeNow(offset: number, data: Uint8Array): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const at = offset + done;
      const index = Math.floor(at / BLOCK);
      const within = at - index * BLOCK;
      const n = Math.min(BLOCK - within, data.length - done);
      (await blockForWrite(index)).set(data.subarray(done, done + n), within);
      done += n;
    }
  }

  return {
    size: base.size,
    readOnly: false,
    async read(offset: number, length: number): Promise<Uint8Array> {
      const out = await base.read(offset, length);
      if (blocks.size === 0) return out;
      const first = Math.floor(offset / BLOCK);
      const last = Math.floor((offset + length - 1) / BLOCK);
      for (let index = first; index <= last; index++) {
        const block = blocks.get(index);
        if (!block) continue;
        const blockStart = index * BLOCK;
        const from = Math.max(offset, blockStart);
        const to = Math.min(offset + length, blockStart + BLOCK);
        out.set(block.subarray(from - blockStart, to - blockStart), from - offset);
      }
      return out;
    },
    write(offset: number, data: Uint8Array): Promise<void> {
      const result = writing.then(() => writeNow(offset, data));
      writing = result.catch(() => undefined);
      return result;
    },
    async flush(): Promise<void> {
      await writing; // nothing is durable beyond memory; flush only orders after writes
    },
  };
}
