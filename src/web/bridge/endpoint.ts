// The WebSocket NBD bridge at /nbd/<n> (compat path): the browser is an NBD server. Here: who may
// connect, to which Proxy slot, one client per slot; each client's session (session.ts) listens
// on the slot's Unix socket, has the daemon Mount, splices frames ⇄ socket and cleans up.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../log.js';
import { requirePrivilege, type Authenticator } from '../auth/authenticate.js';
import { DaemonUnavailable, type DaemonClient } from '../daemon/client.js';
import { crossSiteRefused, fromOtherSite } from '../origin.js';
import { daemonUnavailable } from '../redfish/media-errors.js';
import { RedfishError } from '../redfish/messages.js';
import type { BridgeSocket } from './connection.js';
import { checkHandshake, HandshakeError, offeredProtocols, switchProtocols } from './handshake.js';
import { BridgeSession, CLOSE } from './session.js';
import { DEFAULT_SPLICE, type SpliceOptions } from './splice.js';

/** The largest message we accept: an NBD reply to a 32 MiB read, plus headers. */
const MAX_MESSAGE_BYTES = 32 * 1024 * 1024 + 4096;

export interface BridgeOptions {
  daemon: DaemonClient;
  auth: Authenticator;
  log: Logger;
  splice?: SpliceOptions;
}

export class NbdBridge {
  /** Slots with a client, by slot name. */
  private readonly sessions = new Map<string, BridgeSession>();
  private readonly clients = new Set<BridgeSocket>();

  constructor(private readonly opts: BridgeOptions) {}

  /** True when the request was for /nbd/...: it has been answered or upgraded. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const m = /^\/nbd\/(\d+)\/?(?:\?.*)?$/.exec(req.url ?? '');
    if (!m) return false;
    socket.on('error', () => socket.destroy());
    this.accept(req, socket as Socket, head, `/nbd/${m[1]}`).catch((err: unknown) => {
      if (err instanceof DaemonUnavailable) err = daemonUnavailable(err);
      if (err instanceof RedfishError) return rejectUpgrade(socket, err.status, err.body());
      if (err instanceof HandshakeError) return rejectUpgrade(socket, err.status, { error: { message: err.message } });
      this.opts.log.error({ err }, 'websocket upgrade failed');
      rejectUpgrade(socket, 500, { error: { message: 'internal error' } });
    });
    return true;
  }

  private async accept(req: IncomingMessage, socket: Socket, head: Buffer, endpoint: string): Promise<void> {
    if (fromOtherSite(req)) throw crossSiteRefused();
    // webui-vue sends the XSRF token as the (only) subprotocol; the handshake echoes the first
    const principal = await this.opts.auth.authenticate(req, true, offeredProtocols(req)[0]);
    requirePrivilege(principal, 'ConfigureComponents');
    const slot = (await this.opts.daemon.slots()).find((s) => s.mode === 'Proxy' && s.endpointId === endpoint);
    if (!slot) return rejectUpgrade(socket, 404, { error: { message: `no Proxy slot serves ${endpoint}` } });
    const ws = switchProtocols(socket, head, checkHandshake(req), MAX_MESSAGE_BYTES);
    if (!ws) return;
    this.clients.add(ws);
    void ws.closed.then(() => this.clients.delete(ws));
    if (this.sessions.has(slot.name) || slot.active) {
      ws.close(CLOSE.slotInUse, `${slot.name} is already in use by another client`);
      return;
    }
    this.opts.log.info({ slot: slot.name, user: principal.user }, 'bridge client connected');
    const session = new BridgeSession(ws, slot, this.opts.daemon, this.opts.log, this.opts.splice ?? DEFAULT_SPLICE);
    this.sessions.set(slot.name, session);
    void session.done.finally(() => this.sessions.delete(slot.name));
  }

  /** Ejects every session's media, closes all client connections, waits for the slots to be free. */
  async close(): Promise<void> {
    const shutdowns = [...this.sessions.values()].map((s) => s.shutdown());
    for (const ws of this.clients) ws.close(CLOSE.goingAway, 'server shutting down');
    await Promise.allSettled(shutdowns);
  }
}

function rejectUpgrade(socket: Duplex, status: number, body: object): void {
  const text = JSON.stringify(body);
  const reason =
    {
      400: 'Bad Request',
      401: 'Unauthorized',
      403: 'Forbidden',
      404: 'Not Found',
      405: 'Method Not Allowed',
      429: 'Too Many Requests',
      503: 'Service Unavailable',
    }[status] ?? 'Error';
  const extra = status === 401 ? 'WWW-Authenticate: Basic realm="vmedia"\r\n' : '';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n${extra}Connection: close\r\n\r\n${text}`,
  );
}
