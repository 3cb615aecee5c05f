// A read-only NBD export over a Blob (a File the user picked): each read slices just the
// requested range, so the file is never held in memory as a whole.
import type { BlockBackend } from '../nbd/backend.js';

/** The part of Blob we use; a browser File and Node's fs.openAsBlob() both fit. */
export interface BlobLike {
  readonly size: number;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

export function blobBackend(blob: BlobLike): BlockBackend {
  return {
    size: blob.size,
    readOnly: true,
    async read(offset: number, length: number): Promise<Uint8Array> {
      return new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
    },
  };
}
