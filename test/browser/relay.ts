// A stand-in for the BMC's WebSocket bridge in the worker tests: accepts one WebSocket (the
// page's NBD server) and relays it to a unix socket where a real NBD client (nbdcopy, nbdsh)
// connects. Bytes the page sends before the client arrives (the greeting) wait in a queue.
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface Relay {
  url: string;
  socketPath: string;
  /** Subprotocols the page offered on its WebSocket. */
  protocols: string[];
  close(): Promise<void>;
}

export async function startRelay(socketPath: string): Promise<Relay> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => [...p][0] ?? false });
  const unix = net.createServer();
  const protocols: string[] = [];
  let page: WebSocket | undefined;
  let client: net.Socket | undefined;
  const queued: Buffer[] = [];

  wss.on('connection', (ws, req) => {
    protocols.push(
      ...String(req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
    page = ws;
    ws.on('message', (data: Buffer) => (client ? client.write(data) : queued.push(data)));
    ws.on('close', () => client?.end());
  });
  unix.on('connection', (sock) => {
    client = sock;
    for (const d of queued.splice(0)) sock.write(d);
    sock.on('data', (d) => page?.send(d));
    sock.on('close', () => page?.close(1000, 'nbd client left'));
    sock.on('error', () => undefined);
  });
  await once(wss, 'listening');
  unix.listen(socketPath);
  await once(unix, 'listening');
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/nbd/0`,
    socketPath,
    protocols,
    async close() {
      page?.terminate();
      client?.destroy();
      await new Promise<void>((resolve) => unix.close(() => resolve()));
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
