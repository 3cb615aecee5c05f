// The WebSocket NBD bridge at /nbd/<n> (compat path): the browser is an NBD server. Here: who may
// connect, to which Proxy slot, one client per slot; each client's session (session.ts) listens
// on the slot's Unix socket, has the daemon Mount, splices frames ⇄ socket and cleans up.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../log.js';
import { requirePrivilege, type Authenticator } from '../auth/authenticate.js';
import { DaemonUnavailable, type DaemonClient } from '../daemon/client.js';
import { crossSiteRefused, fromOtherSite } from '../origin.js';
import { daemonUnavailable } from '../redfish/media-errors.js';
import { RedfishError } from '../redfish/messages.js';
import { BridgeSession, CLOSE } from './session.js';
import { DEFAULT_SPLICE, type SpliceOptions } from './splice.js';

/** The largest frame we accept: an NBD reply to a 32 MiB read, plus headers. */
const MAX_FRAME_BYTES = 32 * 1024 * 1024 + 4096;

export interface BridgeOptions {
  daemon: DaemonClient;
  auth: Authenticator;
  log: Logger;
  splice?: SpliceOptions;
}

export class NbdBridge {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
  /** Slots with a client, by slot name. */
  private readonly sessions = new Map<string, BridgeSession>();
  private readonly clients = new Set<WebSocket>();

  constructor(private readonly opts: BridgeOptions) {}

  /** True when the request was for /nbd/...: it has been answered or upgraded. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const m = /^\/nbd\/(\d+)\/?(?:\?.*)?$/.exec(req.url ?? '');
    if (!m) return false;
    this.accept(req, socket, head, `/nbd/${m[1]}`).catch((err: unknown) => {
      if (err instanceof DaemonUnavailable) err = daemonUnavailable(err);
      if (err instanceof RedfishError) return rejectUpgrade(socket, err.status, err.body());
      this.opts.log.error({ err }, 'websocket upgrade failed');
      rejectUpgrade(socket, 500, { error: { message: 'internal error' } });
    });
    return true;
  }

  private async accept(req: IncomingMessage, socket: Duplex, head: Buffer, endpoint: string): Promise<void> {
    if (fromOtherSite(req)) throw crossSiteRefused();
    // webui-vue sends the XSRF token as the (only) subprotocol; ws echoes the first one offered
    const offered = req.headers['sec-websocket-protocol']?.split(',')[0]?.trim();
    const principal = await this.opts.auth.authenticate(req, true, offered);
    requirePrivilege(principal, 'ConfigureComponents');
    const slot = (await this.opts.daemon.slots()).find((s) => s.mode === 'Proxy' && s.endpointId === endpoint);
    if (!slot) return rejectUpgrade(socket, 404, { error: { message: `no Proxy slot serves ${endpoint}` } });
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.clients.add(ws);
      ws.once('close', () => this.clients.delete(ws));
      if (this.sessions.has(slot.name) || slot.active) {
        ws.close(CLOSE.slotInUse, `${slot.name} is already in use by another client`);
        return;
      }
      this.opts.log.info({ slot: slot.name, user: principal.user }, 'bridge client connected');
      const session = new BridgeSession(ws, slot, this.opts.daemon, this.opts.log, this.opts.splice ?? DEFAULT_SPLICE);
      this.sessions.set(slot.name, session);
      void session.done.finally(() => this.sessions.delete(slot.name));
    });
  }

  /** Ejects every session's media, closes all client connections, waits for the slots to be free. */
  async close(): Promise<void> {
    const shutdowns = [...this.sessions.values()].map((s) => s.shutdown());
    for (const ws of this.clients) ws.close(CLOSE.goingAway, 'server shutting down');
    await Promise.allSettled(shutdowns);
    this.wss.close();
  }
}

function rejectUpgrade(socket: Duplex, status: number, body: object): void {
  const text = JSON.stringify(body);
  const reason =
    { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' }[
      status
    ] ?? 'Error';
  const extra = status === 401 ? 'WWW-Authenticate: Basic realm="vmedia"\r\n' : '';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n${extra}Connection: close\r\n\r\n${text}`,
  );
}
