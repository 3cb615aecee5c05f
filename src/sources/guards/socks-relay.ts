// The per-slot SOCKS5 relay that every network connection of a Legacy source goes through while
// the SSRF guard is on. nbdkit's curl and libssh would resolve the image host's name again after
// the guard did, and a second answer may differ (DNS rebinding); redirects and retries connect
// to hosts the Mount-time check never saw. Through this relay each connection is resolved here,
// every address is checked by the guard, and the relay connects to a checked address itself.
// It listens on a 0600 Unix socket in the 0700 state dir: no TCP port, no other user.
import net from 'node:net';
import { chmod, rm } from 'node:fs/promises';
import type { Logger } from '../../log.js';
import { MountError, type ErrnoName } from '../../errno.js';
import { checkSourceHost } from './ssrf-guard.js';
import {
  connectReply,
  methodChoice,
  parseConnectRequest,
  parseGreeting,
  Reply,
  SocksError,
  type ConnectRequest,
} from './socks5.js';

export interface SocksRelay {
  /** The relay's Unix socket. */
  readonly socket: string;
  /** Why the latest connection through the relay failed (guard, name, network); undefined after a success. */
  lastFailure(): MountError | undefined;
  /** Stops listening, cuts the open connections and removes the socket. */
  close(): Promise<void>;
}

export async function startSocksRelay(socket: string, log: Logger): Promise<SocksRelay> {
  const open = new Set<net.Socket>();
  let lastFailure: MountError | undefined;
  const track = (s: net.Socket) => {
    open.add(s);
    s.once('close', () => open.delete(s));
  };
  const server = net.createServer((client) => {
    track(client);
    serveClient(client, async (request) => {
      try {
        const upstream = await connectChecked(request, client);
        track(upstream);
        lastFailure = undefined;
        return upstream;
      } catch (err) {
        lastFailure = err instanceof MountError ? err : new MountError('EIO', String(err));
        log.warn(
          { host: request.host, port: request.port, errno: lastFailure.errno, cause: lastFailure.message },
          'source connection not made',
        );
        throw lastFailure;
      }
    });
  });
  await rm(socket, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(socket, 0o600);
  return {
    socket,
    lastFailure: () => lastFailure,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of open) s.destroy();
      await closed;
      await rm(socket, { force: true });
    },
  };
}

/** Reads the greeting and the CONNECT request, then splices the client to what `connect` opens. */
function serveClient(client: net.Socket, connect: (request: ConnectRequest) => Promise<net.Socket>): void {
  let buf = Buffer.alloc(0);
  let greeted = false;
  client.on('error', () => client.destroy());
  const onData = (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    try {
      if (!greeted) {
        const greeting = parseGreeting(buf);
        if (!greeting) return;
        buf = buf.subarray(greeting.length);
        client.write(methodChoice(greeting.noAuthentication));
        if (!greeting.noAuthentication) return void client.end();
        greeted = true;
      }
      const request = parseConnectRequest(buf);
      if (!request) return;
      client.off('data', onData);
      client.pause();
      const early = buf.subarray(request.length);
      connect(request).then(
        (upstream) => splice(client, upstream, early),
        (err: MountError) => client.end(connectReply(replyFor(err.errno))),
      );
    } catch (err) {
      if (err instanceof SocksError && err.reply !== undefined) client.end(connectReply(err.reply));
      else client.destroy();
    }
  };
  client.on('data', onData);
}

function splice(client: net.Socket, upstream: net.Socket, early: Buffer): void {
  const cut = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', cut);
  upstream.on('error', cut);
  client.write(connectReply(Reply.succeeded));
  if (early.length > 0) upstream.write(early);
  client.pipe(upstream);
  upstream.pipe(client);
  client.resume();
}

/** A TCP connection to the first address of the request's host that the guard allows and that answers. */
async function connectChecked(request: ConnectRequest, client: net.Socket): Promise<net.Socket> {
  const addresses = await checkSourceHost(request.host);
  let failure: MountError | undefined;
  for (const address of addresses) {
    if (client.destroyed) break;
    try {
      return await connectTcp(address, request.port, client);
    } catch (err) {
      failure = connectFailure(err as NodeJS.ErrnoException, request, address);
    }
  }
  throw failure ?? new MountError('ECONNRESET', 'the connection closed before the image server answered');
}

/** Connects, or rejects; gives up when the client goes away meanwhile (its own timeout expired). */
function connectTcp(address: string, port: number, client: net.Socket): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const upstream = net.connect({ host: address, port, noDelay: true });
    const abandon = () => upstream.destroy(new Error('the client closed'));
    const failed = (err: Error) => {
      client.off('close', abandon);
      reject(err);
    };
    client.once('close', abandon);
    upstream.once('error', failed);
    upstream.once('connect', () => {
      client.off('close', abandon);
      upstream.off('error', failed);
      resolve(upstream);
    });
  });
}

const CONNECT_ERRNOS: Record<string, ErrnoName> = {
  ECONNREFUSED: 'ECONNREFUSED',
  ETIMEDOUT: 'ETIMEDOUT',
  EHOSTUNREACH: 'EHOSTUNREACH',
  ENETUNREACH: 'ENETUNREACH',
};

function connectFailure(err: NodeJS.ErrnoException, request: ConnectRequest, address: string): MountError {
  const errno = CONNECT_ERRNOS[err.code ?? ''] ?? 'EIO';
  return new MountError(
    errno,
    `cannot connect to the image server ${request.host} (${address}) port ${request.port}: ${err.message}`,
  );
}

/** The SOCKS reply that tells the client (and whoever reads its errors) what happened. */
function replyFor(errno: ErrnoName): number {
  switch (errno) {
    case 'EINVAL':
      return Reply.notAllowed; // the guard refused the address
    case 'EHOSTUNREACH':
      return Reply.hostUnreachable;
    case 'ENETUNREACH':
      return Reply.networkUnreachable;
    case 'ECONNREFUSED':
      return Reply.connectionRefused;
    default:
      return Reply.generalFailure;
  }
}
