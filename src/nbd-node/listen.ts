// Accepts connections on a unix socket or TCP port and serves each with an NbdServer.
import fs from 'node:fs';
import net from 'node:net';
import type { NbdServer } from '../nbd/server.js';
import { enlargeSendBuffer } from '../net/send-buffer.js';
import { socketStream } from './socket-stream.js';

export type ListenAddress = { socket: string } | { port: number; host?: string };

export interface NbdListener {
  /** The bound TCP port (useful with port 0), undefined for a unix socket. */
  readonly port: number | undefined;
  /** Stops accepting, cuts open connections and removes the socket file. */
  close(): Promise<void>;
}

export async function listenNbd(server: NbdServer, where: ListenAddress): Promise<NbdListener> {
  const sockets = new Set<net.Socket>();
  const listener = net.createServer((sock) => {
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
    // the replies go this way; TCP sizes its own buffer (a set size would turn that off)
    if ('socket' in where) enlargeSendBuffer(sock);
    void server.serve(socketStream(sock));
  });
  if ('socket' in where) removeStaleSocket(where.socket);
  await new Promise<void>((resolve, reject) => {
    listener.once('error', (err) =>
      reject(new Error(`cannot listen for NBD on ${describe(where)}: ${err.message}`, { cause: err })),
    );
    if ('socket' in where) listener.listen(where.socket, resolve);
    else listener.listen(where.port, where.host ?? '127.0.0.1', resolve);
  });
  const address = listener.address();
  return {
    port: typeof address === 'object' && address ? address.port : undefined,
    close: async () => {
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

function describe(where: ListenAddress): string {
  return 'socket' in where ? where.socket : `${where.host ?? '127.0.0.1'}:${where.port}`;
}

/** A socket file left by a previous run would make listen() fail with EADDRINUSE. */
function removeStaleSocket(path: string): void {
  try {
    if (fs.lstatSync(path).isSocket()) fs.unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
