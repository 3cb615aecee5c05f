// Worker entry: the sha256 of a file, read piece by piece so an image of any size is hashed in
// constant memory (WebCrypto's digest() wants the whole input in one buffer) and off the page's
// main thread. The page sends this digest with the upload; the gateway refuses bytes that differ.
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';
import type { HashReply, HashRequest } from './hash-protocol.js';

declare const self: DedicatedWorkerGlobalScope;

const PIECE = 4 * 1024 * 1024;

function post(msg: HashReply): void {
  self.postMessage(msg);
}

async function hashFile(file: File): Promise<string> {
  const hash = sha256.create();
  for (let offset = 0; offset < file.size; offset += PIECE) {
    const piece = await file.slice(offset, offset + PIECE).arrayBuffer();
    hash.update(new Uint8Array(piece));
    post({ type: 'progress', bytes: Math.min(offset + PIECE, file.size) });
  }
  return bytesToHex(hash.digest());
}

self.onmessage = (ev: MessageEvent<HashRequest>) => {
  hashFile(ev.data.file).then(
    (sha256) => post({ type: 'done', sha256 }),
    (err: unknown) => post({ type: 'error', message: `cannot read the file: ${(err as Error).message}` }),
  );
};
