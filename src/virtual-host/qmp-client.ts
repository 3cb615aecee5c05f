// A QMP client (QEMU's JSON monitor protocol) over a Unix socket: one JSON object a line. The
// greeting comes first, then qmp_capabilities leaves negotiation mode; each command carries an
// id that its reply echoes, so commands may overlap. Events are handed to listeners.
import net from 'node:net';
import { createInterface } from 'node:readline';

export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
}

/** An error reply: QEMU's class (e.g. GenericError, DeviceNotFound) and description. */
export class QmpError extends Error {
  constructor(
    readonly errorClass: string,
    readonly command: string,
    description: string,
  ) {
    super(`${command}: ${description}`);
    this.name = 'QmpError';
  }
}

interface Pending {
  command: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export class QmpClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(event: QmpEvent) => void>();
  private greeted!: () => void;
  private readonly greeting = new Promise<void>((resolve) => (this.greeted = resolve));
  /** Resolves once the connection is closed, by either side. */
  readonly closed: Promise<void>;

  private constructor(private readonly socket: net.Socket) {
    createInterface({ input: socket, crlfDelay: Infinity })
      .on('line', (line) => this.receive(line))
      .on('error', () => undefined); // readline passes on the socket's errors; 'close' below handles them
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        const gone = new Error('the QMP connection closed');
        for (const p of this.pending.values()) p.reject(gone);
        this.pending.clear();
        resolve();
      });
    });
    socket.on('error', () => undefined); // a reset when QEMU exits: 'close' follows and fails what is pending
  }

  /** Connects, waits for the greeting and leaves negotiation mode. */
  static async connect(socketPath: string): Promise<QmpClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(socketPath);
      s.once('connect', () => {
        s.removeListener('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
    const client = new QmpClient(socket);
    await Promise.race([
      client.greeting,
      client.closed.then(() => {
        throw new Error('QEMU closed the QMP connection before its greeting');
      }),
    ]);
    await client.execute('qmp_capabilities');
    return client;
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.socket.destroyed) {
        reject(new Error(`${command}: the QMP connection is closed`));
        return;
      }
      this.pending.set(id, { command, resolve: (value) => resolve(value as T), reject });
      this.socket.write(JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id }) + '\n');
    });
  }

  /** Calls back for every event until the returned function is called. */
  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The next event that `matches`, from now on; `event` rejects after timeoutMs. Call `cancel`
   * when no longer waiting (it stops the timer and the listener).
   */
  waitForEvent(matches: (event: QmpEvent) => boolean, timeoutMs: number): { event: Promise<QmpEvent>; cancel(): void } {
    let cancel: () => void = () => undefined;
    const event = new Promise<QmpEvent>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching QMP event within ${timeoutMs} ms`)), timeoutMs);
      const stop = this.onEvent((e) => {
        if (!matches(e)) return;
        cancel();
        resolve(e);
      });
      cancel = () => {
        clearTimeout(timer);
        stop();
      };
    });
    // the caller may only await it later: a timeout before then is not an unhandled rejection
    event.catch(() => undefined);
    return { event, cancel: () => cancel() };
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // QMP only sends JSON; a torn last line at exit is not worth more
    }
    if ('QMP' in msg) {
      this.greeted();
    } else if (typeof msg.event === 'string') {
      const event = { event: msg.event, data: (msg.data ?? {}) as Record<string, unknown> };
      for (const listener of this.listeners) listener(event);
    } else if (typeof msg.id === 'number') {
      const pending = this.pending.get(msg.id);
      if (!pending) return;
      this.pending.delete(msg.id);
      const error = msg.error as { class?: string; desc?: string } | undefined;
      if (error) pending.reject(new QmpError(error.class ?? 'GenericError', pending.command, error.desc ?? 'failed'));
      else pending.resolve(msg.return);
    }
  }
}
