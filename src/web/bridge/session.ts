// One browser's session on one Proxy slot, from the upgrade until the slot is free again: listen
// on the slot socket, Mount (the daemon's NBD client connects to us; another client's Mount that
// got the slot first may bring it too), splice the WebSocket to that connection, and end it so
// that the daemon's Completion says what happened:
//  - the browser went away while Active: the NBD client sees its server gone and the daemon
//    ends the mount as lost (Completion(ECONNREFUSED)). No Unmount: it would race the loss and,
//    when first, make a vanished browser look like an eject that went well (Completion(0));
//  - the host side let go (EjectMedia, inactivity): the daemon is ejecting already;
//  - the web shuts down: Unmount, a requested eject (Completion(0)), then the WebSocket closes.
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../../log.js';
import { enlargeSendBuffer } from '../../net/send-buffer.js';
import { DaemonCallError, type CompletionWait, type DaemonClient, type SlotState } from '../daemon/client.js';
import { errnoText } from '../daemon/errno.js';
import type { BridgeSocket, Closed } from './connection.js';
import { splice, type SpliceOptions } from './splice.js';
import { completionWaitMs } from '../../contract.js';

/** WebSocket close codes the page can show (4000-4999 are ours to define). */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001,
  mountFailed: 1011,
  slotInUse: 4409,
} as const;

/** The daemon's refusals of a Mount while another client's Mount or eject holds the slot. */
const SLOT_TAKEN = new Set(['EBUSY', 'EPERM']);
/** Mounts tried while other clients' Mounts keep failing in front of this session's. */
const MOUNT_ATTEMPTS = 3;

/** Who ended the session first, and why (in words for the log). */
interface Ending {
  by: 'client' | 'host' | 'server';
  why: string;
}

export class BridgeSession {
  private readonly log: Logger;
  /** Bounds each wait for a Completion: the daemon gives up at Timeout + 5 s. */
  private readonly waitMs: number;
  private conn?: Socket;
  private active = false;
  private ending?: Ending;
  /** Set when the client left while Active: the daemon's report of the loss. */
  private loss?: CompletionWait;
  /** Resolves once everything is cleaned up and the slot is free. */
  readonly done: Promise<void>;

  constructor(
    private readonly ws: BridgeSocket,
    private readonly slot: SlotState,
    private readonly daemon: DaemonClient,
    log: Logger,
    private readonly spliceOptions: SpliceOptions,
  ) {
    this.log = log.child({ slot: slot.name });
    this.waitMs = completionWaitMs(slot.timeout);
    this.done = this.run();
  }

  /** The web is shutting down: eject (Completion(0)), then close the WebSocket. */
  async shutdown(): Promise<void> {
    this.end({ by: 'server', why: 'the server is shutting down' });
    if (this.active) await this.unmount();
    this.ws.close(CLOSE.goingAway, 'server shutting down');
    await this.done;
  }

  private end(ending: Ending): void {
    this.ending ??= ending;
  }

  private async run(): Promise<void> {
    const { ws, slot, log } = this;
    // the browser speaks first (the NBD greeting): its frames wait (ws reads nothing until the
    // splice) until the NBD client connects
    let server: Server | undefined;
    const wsClosed = ws.closed.then((closed) => {
      this.end({ by: 'client', why: closedText(closed) });
      // listen for the daemon's report of the loss before its NBD client can see it
      if (this.active && this.ending?.by === 'client') this.loss = this.daemon.nextCompletion(slot, this.waitMs);
      // the NBD client must see the end at once (not hang in a handshake until its timeout)
      this.conn?.destroy();
    });
    try {
      server = await listenUnix(slot.socket);
      server.on('connection', (c) => this.connect(c));
      const mounted = await this.mount();
      if (mounted) {
        this.active = true;
        log.info('bridge mounted');
      }
      await wsClosed;
      if (mounted) await this.release();
    } catch (err) {
      log.error({ err: String(err) }, 'bridge session failed');
      ws.close(CLOSE.mountFailed, 'bridge failed on the server');
      await wsClosed;
    } finally {
      this.conn?.destroy();
      if (server) await closeServer(server);
      rmSync(slot.socket, { force: true });
      log.info('bridge client gone; slot released');
    }
  }

  /** The daemon's NBD client: spliced to the WebSocket; a second connection is refused. */
  private connect(c: Socket): void {
    const { ws } = this;
    if (this.conn || !ws.isOpen) return void c.destroy();
    this.conn = c;
    // the page's replies go this way (the web runs without CAP_NET_ADMIN: up to wmem_max)
    enlargeSendBuffer(c);
    splice(ws, c, this.spliceOptions);
    c.on('error', () => {
      /* the close that follows ends the session */
    });
    c.once('close', () => {
      this.end({ by: 'host', why: 'the host side disconnected (media ejected)' });
      // on shutdown, shutdown() closes the WebSocket with its own code
      if (this.ending?.by !== 'server') ws.close(CLOSE.normal, 'the host side disconnected (media ejected)');
    });
  }

  /** Mount; false (the WebSocket closed or closing, the reason logged) when it did not succeed. */
  private async mount(): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      const result = await this.daemon.operate(this.slot, 'Mount', undefined, this.waitMs).catch((err: unknown) => {
        if (err instanceof DaemonCallError) return err;
        throw err;
      });
      if (result === 0) return true;
      if (result instanceof DaemonCallError && SLOT_TAKEN.has(result.errno ?? '') && !this.ending) {
        const settled = await this.settleOtherMount();
        if (settled === 'served here') {
          this.log.info("another client's Mount of the slot reached this session: the browser serves it");
          return true;
        }
        if (settled === 'free' && attempt < MOUNT_ATTEMPTS) continue;
      }
      const why = result instanceof DaemonCallError ? `${result.errorName}: ${result.message}` : errnoText(result);
      if (this.ending) {
        // the session's end failed the mount: its reason is the one worth reading
        this.log.warn({ why: this.ending.why, mount: why }, 'bridge session ended before the mount completed');
      } else {
        this.log.warn({ why }, 'bridge mount failed');
        this.ws.close(CLOSE.mountFailed, `mount failed: ${why}`.slice(0, 120));
      }
      return false;
    }
  }

  /**
   * The daemon refused this session's Mount because another client's Mount (a D-Bus client
   * racing the browser) holds the slot. Waits until that one has completed. If it reached the
   * daemon after this session started listening, its NBD client connected here and the browser
   * serves it: the slot is Active on this session's connection. If it failed, the slot is free.
   */
  private async settleOtherMount(): Promise<'served here' | 'free' | 'taken'> {
    const completion = this.daemon.nextCompletion(this.slot, this.waitMs);
    try {
      let now = await this.slotNow();
      // Mount until the media is gone: ExitCode -1; Active only once the mount has completed
      if (now && !now.active && now.exitCode === -1) {
        await completion.result.catch(() => undefined);
        now = await this.slotNow();
      }
      if (!now || this.ending) return 'taken';
      if (now.active) return this.conn ? 'served here' : 'taken';
      return now.exitCode === -1 ? 'taken' : 'free';
    } finally {
      completion.cancel();
    }
  }

  private async slotNow(): Promise<SlotState | undefined> {
    return (await this.daemon.slots()).find((s) => s.path === this.slot.path);
  }

  /** After an Active session: make sure the daemon lets go of the slot (see the top of the file). */
  private async release(): Promise<void> {
    if (this.ending?.by !== 'client') return;
    const loss = this.loss;
    if (loss) {
      const reported = await loss.result.then(
        () => true,
        () => false,
      );
      if (reported) return;
    }
    // the client left while the mount was completing, or the daemon never reported the loss
    await this.unmount();
  }

  private async unmount(): Promise<void> {
    await this.daemon.operate(this.slot, 'Unmount', undefined, this.waitMs).catch((err: unknown) => {
      // EPERM/EBUSY: the daemon already saw the connection end and is tearing down itself
      if (!(err instanceof DaemonCallError)) this.log.warn({ err: String(err) }, 'bridge unmount failed');
    });
  }
}

function closedText({ code, reason, violation }: Closed): string {
  if (violation !== undefined) return `the client broke the WebSocket protocol (${violation})`;
  return `the client closed the connection (${reason.length > 0 ? `code ${code}: ${reason}` : `code ${code}`})`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
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
