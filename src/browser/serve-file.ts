// The page's side of a Proxy slot: an NBD server for one local file, over the WebSocket to the
// BMC's bridge. The BMC is the NBD client; every read it makes is answered from the file.
import type { BlockBackend } from '../nbd/backend.js';
import { NbdServer } from '../nbd/server.js';
import type { TransferCounters } from '../nbd/server-transmission.js';
import { webSocketStream, type WebSocketLike } from '../nbd/websocket-stream.js';
import { blobBackend, type BlobLike } from './blob-backend.js';

export interface ServeFileOptions {
  file: BlobLike;
  /** Called once the WebSocket is open (the bridge accepted us). */
  onOpen?: () => void;
  /** A connection that broke on a protocol or backend error (not a plain close). */
  onError?: (err: Error) => void;
}

/** How the WebSocket ended, as the server or network reported it. */
export interface SocketEnd {
  code: number;
  reason: string;
  /** false when the connection was never established (refused at upgrade, unreachable). */
  opened: boolean;
  /** true when stop() closed it (the user's Stop), not the BMC or the network. */
  stopped: boolean;
}

/** Reads of the file that failed (the BMC got EIO), e.g. the file changed or vanished since it was picked. */
export interface FileErrors {
  count: number;
  last?: string;
}

export interface FileSession {
  /** Payload bytes the BMC has read and written so far. */
  readonly counters: Readonly<TransferCounters>;
  readonly fileErrors: Readonly<FileErrors>;
  /** Resolves when the WebSocket has closed, for whatever reason. */
  readonly ended: Promise<SocketEnd>;
  /** Close the WebSocket; the bridge then unmounts the slot (eject). */
  stop(): void;
}

export function serveFile(ws: WebSocketLike, opts: ServeFileOptions): FileSession {
  const fileErrors: FileErrors = { count: 0 };
  const blob = blobBackend(opts.file);
  const counted = <T>(reading: Promise<T>): Promise<T> =>
    reading.catch((err: unknown) => {
      fileErrors.count++;
      fileErrors.last = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      throw err;
    });
  // read-only (no write method): the daemon mounts Proxy slots read-only
  const backend: BlockBackend = {
    size: blob.size,
    readOnly: blob.readOnly,
    read: (offset, length) => counted(blob.read(offset, length)),
    // the server reads into its reply buffer: one copy out of the window
    readInto: (offset, dest) => counted(blob.readInto(offset, dest)),
  };
  // any export name the BMC asks for is this file: the slot has exactly one image
  const server = new NbdServer({ exports: () => backend, onError: opts.onError });
  const stream = webSocketStream(ws);
  let opened = false;
  let stopped = false;
  const ended = new Promise<SocketEnd>((resolve) => {
    ws.addEventListener('close', (ev) => {
      const { code, reason } = ev as { code?: number; reason?: string };
      resolve({ code: code ?? 1006, reason: reason ?? '', opened, stopped });
    });
  });
  ws.addEventListener('open', () => {
    opened = true;
    opts.onOpen?.();
  });
  void server.serve(stream);
  return {
    counters: server.counters,
    fileErrors,
    ended,
    stop: () => {
      stopped = true;
      ws.close(1000, 'stopped by the user');
    },
  };
}
