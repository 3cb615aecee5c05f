// The WebSocket NBD bridge at /nbd/<n> (compat path): the browser is an NBD server; we listen on
// the Proxy slot's Unix socket, ask the daemon to Mount (its NBD client connects to us), and
// splice frames ⇄ socket. One client per slot. When either side closes: Unmount, close the
// listener, remove the socket file.
import type { IncomingMessage } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, rmSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../log.js';
import { requirePrivilege, type Authenticator } from '../auth/authenticate.js';
import { DaemonCallError, type DaemonClient, type SlotState } from '../daemon/client.js';
import { errnoText } from '../daemon/errno.js';
import { crossSiteRefused, fromOtherSite } from '../origin.js';
import { RedfishError } from '../redfish/messages.js';
import { DEFAULT_SPLICE, splice, type SpliceOptions } from './splice.js';

/** WebSocket close codes the page can show (4000-4999 are ours to define). */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  mountFailed: 1011,
  slotInUse: 4409,
} as const;

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
  /** Slots with a client, by slot name: the session's teardown, awaited on shutdown. */
  private readonly busy = new Map<string, Promise<void>>();
  private readonly clients = new Set<WebSocket>();

  constructor(private readonly opts: BridgeOptions) {}

  /** True when the request was for /nbd/...: it has been answered or upgraded. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const m = /^\/nbd\/(\d+)\/?(?:\?.*)?$/.exec(req.url ?? '');
    if (!m) return false;
    this.accept(req, socket, head, `/nbd/${m[1]}`).catch((err: unknown) => {
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
      if (this.busy.has(slot.name) || slot.active) {
        ws.close(CLOSE.slotInUse, `${slot.name} is already in use by another client`);
        return;
      }
      this.opts.log.info({ slot: slot.name, user: principal.user }, 'bridge client connected');
      this.busy.set(
        slot.name,
        this.serve(ws, slot).finally(() => this.busy.delete(slot.name)),
      );
    });
  }

  /** One client's whole session on one slot; resolves when everything is cleaned up. */
  private async serve(ws: WebSocket, slot: SlotState): Promise<void> {
    const log = this.opts.log.child({ slot: slot.name });
    // the browser speaks first (the NBD greeting): hold its frames until the NBD client connects
    ws.pause();
    let server: Server | undefined;
    let conn: Socket | undefined;
    // the NBD client must see the end at once (not hang in a handshake until its timeout)
    const wsClosed = new Promise<void>((resolve) =>
      ws.once('close', () => {
        conn?.destroy();
        resolve();
      }),
    );
    try {
      server = await listenUnix(slot.socket);
      server.on('connection', (c) => {
        if (conn || ws.readyState !== ws.OPEN) return void c.destroy();
        conn = c;
        splice(ws, c, this.opts.splice ?? DEFAULT_SPLICE);
        c.on('error', () => {
          /* the close that follows ends the session */
        });
        c.once('close', () => ws.close(CLOSE.normal, 'the host side disconnected (media ejected)'));
      });
      ws.on('error', () => {
        /* 'close' follows */
      });
      const errno = await this.opts.daemon
        .operate(slot, 'Mount', undefined, (slot.timeout + 10) * 1000)
        .catch((err: unknown) => {
          if (err instanceof DaemonCallError) return err;
          throw err;
        });
      if (errno instanceof DaemonCallError || errno !== 0) {
        const why = errno instanceof DaemonCallError ? `${errno.errorName}: ${errno.message}` : errnoText(errno);
        log.warn({ why }, 'bridge mount failed');
        ws.close(CLOSE.mountFailed, `mount failed: ${why}`.slice(0, 120));
        await wsClosed;
        return;
      }
      log.info('bridge mounted');
      await wsClosed;
      await this.opts.daemon.operate(slot, 'Unmount', undefined, (slot.timeout + 10) * 1000).catch((err: unknown) => {
        // EPERM/EBUSY: the daemon already saw the connection end and is tearing down itself
        if (!(err instanceof DaemonCallError)) log.warn({ err: String(err) }, 'bridge unmount failed');
      });
    } catch (err) {
      log.error({ err: String(err) }, 'bridge session failed');
      ws.close(CLOSE.mountFailed, 'bridge failed on the server');
    } finally {
      conn?.destroy();
      if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
      rmSync(slot.socket, { force: true });
      log.info('bridge client gone; slot released');
    }
  }

  /** Closes all client connections and waits for their slots to be unmounted. */
  async close(): Promise<void> {
    for (const ws of this.clients) ws.close(CLOSE.goingAway, 'server shutting down');
    await Promise.allSettled([...this.busy.values()]);
    this.wss.close();
  }
}

async function listenUnix(path: string): Promise<Server> {
  rmSync(path, { force: true });
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return server;
}

function rejectUpgrade(socket: Duplex, status: number, body: object): void {
  const text = JSON.stringify(body);
  const reason =
    { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests' }[status] ?? 'Error';
  const extra = status === 401 ? 'WWW-Authenticate: Basic realm="vmedia"\r\n' : '';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n${extra}Connection: close\r\n\r\n${text}`,
  );
}
