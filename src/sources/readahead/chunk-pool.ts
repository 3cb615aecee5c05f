// The read-ahead's chunk buffers. Each is its own resizable ArrayBuffer, so its memory goes back
// to the system the moment it is released (V8 decommits the pages of a shrunk one), with no
// garbage collection and outside malloc. Plain 2 MiB Uint8Arrays were malloc'd: once the first
// was freed, glibc raised its mmap threshold above their size, the next ones came from an arena
// that is never trimmed, and the daemon stayed 30-40 MiB above its idle RSS after a transfer
// (docs/performance.md). A released buffer keeps only its address range reserved.

// ES2024's resizable ArrayBuffer (Node 20); the project's lib is ES2022
interface ResizableArrayBuffer extends ArrayBuffer {
  resize(byteLength: number): void;
}
const ResizableArrayBuffer = ArrayBuffer as unknown as new (
  byteLength: number,
  options: { maxByteLength: number },
) => ResizableArrayBuffer;

export interface ChunkPool {
  /** A buffer of the pool's chunk size: a spare one, else one given memory now. */
  take(): Uint8Array;
  /** A buffer back: kept for the next take() while no more than `maxResident` hold memory,
   *  else released (reads pinning dropped chunks can push the count over it for a while). */
  give(buffer: Uint8Array): void;
  /** Gives the memory of every spare buffer back to the system now. */
  release(): void;
  /** Buffers holding memory (taken or spare): the pool's resident memory in chunks. */
  readonly resident: number;
  /** Buffers taken and not given back. */
  readonly taken: number;
}

export function chunkPool(chunkBytes: number, maxResident: number): ChunkPool {
  /** Buffers with memory, not taken. */
  const spare: Uint8Array[] = [];
  /** Buffers without memory (resized to 0), for the next take() to grow again: no new reservation. */
  const released: ResizableArrayBuffer[] = [];
  let resident = 0;

  function releaseOne(buffer: Uint8Array): void {
    const memory = buffer.buffer as ResizableArrayBuffer;
    memory.resize(0);
    released.push(memory);
    resident -= 1;
  }

  return {
    take() {
      const ready = spare.pop();
      if (ready) return ready;
      const memory = released.pop() ?? new ResizableArrayBuffer(0, { maxByteLength: chunkBytes });
      memory.resize(chunkBytes);
      resident += 1;
      return new Uint8Array(memory, 0, chunkBytes);
    },
    give(buffer) {
      if (resident <= maxResident) spare.push(buffer);
      else releaseOne(buffer);
    },
    release() {
      for (const buffer of spare.splice(0)) releaseOne(buffer);
    },
    get resident() {
      return resident;
    },
    get taken() {
      return resident - spare.length;
    },
  };
}
