// An upload from the page: through a resumable upload session, so the file is hashed (in the
// worker) and sent (in pieces) at the same time, and the digest, known only at the end, goes with
// the final PUT; the gateway makes the image only when the bytes it got have that sha256. A piece
// cut off by the network resumes where the gateway says it stopped.
import { ApiError } from '../redfish-error.js';
import { fileSha256 } from './file-sha256.js';
import type { GatewayApi, ImageInfo } from './gateway-api.js';

/** One PATCH: large enough that requests are few, small enough that a retry resends little. */
const PIECE_BYTES = 64 * 1024 * 1024;
/** Network failures in a row before the upload gives up. */
const RETRIES = 3;

export interface UploadProgress {
  hashed(bytes: number): void;
  sent(bytes: number): void;
}

async function sendPieces(api: GatewayApi, id: string, file: File, progress: UploadProgress, signal: AbortSignal) {
  let offset = 0;
  let failures = 0;
  while (offset < file.size) {
    signal.throwIfAborted();
    const start = offset;
    const end = Math.min(start + PIECE_BYTES, file.size);
    try {
      await api.uploadPiece(id, start, file.slice(start, end), (sent) => progress.sent(start + sent));
      offset = end;
      failures = 0;
    } catch (err) {
      // only a lost connection is retried; an answer from the gateway is final
      if (!(err instanceof ApiError) || err.status !== 0 || ++failures > RETRIES) throw err;
      offset = await api.uploadOffset(id);
    }
  }
  progress.sent(file.size);
}

export async function uploadFile(
  api: GatewayApi,
  file: File,
  name: string,
  progress: UploadProgress,
): Promise<ImageInfo> {
  const id = await api.openUpload(name, file.size);
  const abort = new AbortController();
  try {
    const [sha256] = await Promise.all([
      fileSha256(file, (bytes) => progress.hashed(bytes), abort.signal),
      sendPieces(api, id, file, progress, abort.signal),
    ]);
    return await api.finishUpload(id, sha256);
  } catch (err) {
    abort.abort();
    // nothing half-made is left behind (a digest mismatch keeps the session for a retry otherwise)
    await api.cancelUpload(id).catch(() => undefined);
    throw err;
  }
}
