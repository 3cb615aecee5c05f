// The sha256 of a local file, computed by hash-worker.js; one worker per file, ended after it
// (or when the upload it is for failed).
import type { HashReply, HashRequest } from './hash-protocol.js';

const WORKER_URL = new URL('./hash-worker.js', import.meta.url);

export function fileSha256(file: File, onProgress: (bytes: number) => void, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_URL, { name: 'sha256' });
    const finish = () => worker.terminate();
    signal.addEventListener('abort', () => {
      finish();
      reject(signal.reason as Error);
    });
    worker.onmessage = (ev: MessageEvent<HashReply>) => {
      const msg = ev.data;
      if (msg.type === 'progress') return onProgress(msg.bytes);
      finish();
      if (msg.type === 'done') resolve(msg.sha256);
      else reject(new Error(msg.message));
    };
    worker.onerror = (ev) => {
      finish();
      reject(new Error(`the sha256 worker failed: ${ev.message}`));
    };
    worker.postMessage({ file } satisfies HashRequest);
  });
}
