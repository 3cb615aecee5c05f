// A "browser" for tests and benchmarks: a `ws` WebSocket client that is an NBD server (src/nbd)
// for a local image file, connected to the bridge at /nbd/<n>.
import WebSocket from 'ws';
import { openFileBackend } from '../../src/nbd-node/file-backend.js';
import { NbdServer } from '../../src/nbd/server.js';
import { webSocketStream, type WebSocketLike } from '../../src/nbd/websocket-stream.js';

export interface WsOutcome {
  /** Set when the server answered the upgrade with an HTTP error instead. */
  status?: number;
  code?: number;
  reason?: string;
}

export interface WsNbdServer {
  ws: WebSocket;
  /** The subprotocol the server selected ('' for none). */
  protocol: string;
  /** Resolves when the connection ends (or was refused). */
  ended: Promise<WsOutcome>;
}

/** Resolves once the upgrade is answered: open (then serving `image`) or refused. */
export async function connectWsNbdServer(
  url: string,
  opts: { ca: string; image: string; headers?: Record<string, string>; protocols?: string[]; ciphers?: string },
): Promise<WsNbdServer> {
  const ws = new WebSocket(url, opts.protocols ?? [], {
    ca: opts.ca,
    headers: opts.headers,
    ...(opts.ciphers ? { ciphers: opts.ciphers } : {}),
  });
  const ended = new Promise<WsOutcome>((resolve) => {
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode });
      res.resume();
      ws.terminate();
    });
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    ws.on('error', () => {
      /* close or unexpected-response reports it */
    });
  });
  const opened = await Promise.race([
    new Promise<boolean>((resolve) => ws.once('open', () => resolve(true))),
    ended.then(() => false),
  ]);
  if (opened) {
    const backend = await openFileBackend(opts.image, { readOnly: true });
    void new NbdServer({ exports: () => backend })
      .serve(webSocketStream(ws as unknown as WebSocketLike))
      .catch(() => undefined);
  }
  return { ws, protocol: ws.protocol, ended };
}

export function basicAuth(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}
