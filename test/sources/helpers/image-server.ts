// A real HTTP(S) image server for the Legacy source tests: Range support, and switches the tests
// flip to produce each failure (basic auth, no Range, redirect, latency, dropped connections,
// killed and restarted on the same port).
import http from 'node:http';
import https from 'node:https';
import { createReadStream, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface ImageServerSwitches {
  /** Require HTTP basic auth with these credentials. */
  auth?: { user: string; password: string };
  /** Answer like a server without Range support: no Accept-Ranges, always 200 + the whole file. */
  noRange?: boolean;
  /** pathname → Location: answered with 302. */
  redirects?: Map<string, string>;
  /** Delay before each response (simulated network round trip). */
  latencyMs?: number;
  /** Destroy the connection after this many body bytes of any GET (a connection dropped mid-transfer). */
  dropAfterBytes?: number;
}

export interface ServedRequest {
  method: string;
  path: string;
  range?: string;
  status: number;
  authorization?: string;
}

export interface ImageServer {
  /** "https://127.0.0.1:PORT" (or http, or the [::1] form when listening on ::1). */
  origin: string;
  port: number;
  switches: ImageServerSwitches;
  requests: ServedRequest[];
  /** Body bytes sent so far. */
  bytesSent(): number;
  /** Stop listening and cut every open connection (a crashed server). */
  kill(): Promise<void>;
  /** Listen again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface ImageServerOptions {
  /** pathname (e.g. "/images/disk.img") → file on disk; the query string is ignored. */
  files: Map<string, string>;
  tls?: { key: string; cert: string };
  host?: string;
  switches?: ImageServerSwitches;
}

export async function startImageServer(opts: ImageServerOptions): Promise<ImageServer> {
  const switches: ImageServerSwitches = opts.switches ?? {};
  const requests: ServedRequest[] = [];
  const sockets = new Set<Socket>();
  let sent = 0;

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const log: ServedRequest = { method: req.method ?? '', path: url.pathname + url.search, status: 0 };
    if (req.headers.range) log.range = req.headers.range;
    if (req.headers.authorization) log.authorization = req.headers.authorization;
    requests.push(log);
    const reply = () => {
      const status = respond(req, res, url, opts.files, switches, (n) => {
        sent += n;
      });
      log.status = status;
    };
    if (switches.latencyMs) setTimeout(reply, switches.latencyMs);
    else reply();
  };

  const server = opts.tls
    ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.2' }, handler)
    : http.createServer(handler);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {
    /* clients that reject our CA close the handshake */
  });
  const host = opts.host ?? '127.0.0.1';
  await listen(server, 0, host);
  const port = (server.address() as AddressInfo).port;
  const scheme = opts.tls ? 'https' : 'http';
  const kill = async () => {
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of sockets) s.destroy();
    await closed;
  };
  return {
    origin: `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    switches,
    requests,
    bytesSent: () => sent,
    kill,
    restart: () => listen(server, port, host),
    close: async () => {
      if (server.listening) await kill();
    },
  };
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Answers one request; returns the status. */
function respond(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  files: Map<string, string>,
  sw: ImageServerSwitches,
  count: (n: number) => void,
): number {
  const finish = (status: number, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'Content-Length': '0', ...headers });
    res.end();
    return status;
  };
  const location = sw.redirects?.get(url.pathname);
  if (location) return finish(302, { Location: location });
  if (sw.auth) {
    const expected = 'Basic ' + Buffer.from(`${sw.auth.user}:${sw.auth.password}`).toString('base64');
    if (req.headers.authorization !== expected) return finish(401, { 'WWW-Authenticate': 'Basic realm="images"' });
  }
  const file = files.get(url.pathname);
  if (!file) return finish(404);
  if (req.method !== 'GET' && req.method !== 'HEAD') return finish(405);
  const size = statSync(file).size;
  let start = 0;
  let end = size - 1;
  let status = 200;
  const range = sw.noRange ? undefined : /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (range) {
    start = Number(range[1]);
    end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
    if (start >= size || start > end) return finish(416, { 'Content-Range': `bytes */${size}` });
    status = 206;
  }
  const headers: Record<string, string> = {
    'Content-Length': String(end - start + 1),
    'Content-Type': 'application/octet-stream',
  };
  if (!sw.noRange) headers['Accept-Ranges'] = 'bytes';
  if (status === 206) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return status;
  }
  const stream = createReadStream(file, { start, end });
  let body = 0;
  stream.on('data', (chunk) => {
    const buf = chunk as Buffer;
    if (sw.dropAfterBytes !== undefined && body + buf.length > sw.dropAfterBytes) {
      stream.destroy();
      res.socket?.destroy();
      return;
    }
    body += buf.length;
    count(buf.length);
    if (!res.write(buf)) {
      stream.pause();
      res.once('drain', () => stream.resume());
    }
  });
  stream.on('end', () => res.end());
  stream.on('error', () => res.socket?.destroy());
  return status;
}
