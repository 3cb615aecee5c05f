// Messages between the page and its sha256 worker (hash-worker.js).

export interface HashRequest {
  file: File;
}

export type HashReply =
  { type: 'progress'; bytes: number } | { type: 'done'; sha256: string } | { type: 'error'; message: string };
