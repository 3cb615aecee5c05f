// The web's only way into the daemon (docs/dbus.md, like bmcweb): read the slots from the
// ObjectManager, call Mount/Unmount and wait for the Completion(errno) signal that reports the
// outcome. Every read goes to the bus, so a GET right after an action sees the daemon's state.
import { DBusError, Message, MessageType, Variant, type MessageBus, type MessageLike } from 'dbus-next';
import { connectBus, type BusChoice } from '../../dbus/connect.js';
import { BUS_NAME, IFACE, ROOT_PATH, type SlotModeName } from '../../dbus/names.js';

export interface SlotState {
  name: string;
  mode: SlotModeName;
  path: string;
  endpointId: string;
  socket: string;
  imageUrl: string;
  writeProtected: boolean;
  /** Seconds: the daemon's Completion timer is Timeout + 5 s. */
  timeout: number;
  active: boolean;
  /** Legacy: URL schemes the daemon can serve now (our Sources interface). */
  schemes: string[];
}

/** A D-Bus error reply: `errno` is the name sd-bus style errors carry (System.Error.EBUSY → EBUSY). */
export class DaemonCallError extends Error {
  constructor(
    readonly errorName: string,
    message: string,
  ) {
    super(message);
    this.name = 'DaemonCallError';
  }
  get errno(): string | undefined {
    return /^System\.Error\.(E[A-Z0-9]+)$/.exec(this.errorName)?.[1];
  }
}

/** The operation's outcome did not arrive in time. */
export class CompletionTimeout extends Error {}

type Variantish = { value: unknown };
type ManagedObjects = Record<string, Record<string, Record<string, Variantish>>>;

function slotFrom(path: string, ifaces: Record<string, Record<string, Variantish>>): SlotState | undefined {
  const m = /\/(Proxy|Legacy)\/([^/]+)$/.exec(path);
  const mp = ifaces[IFACE.mountPoint];
  if (!m || !mp) return undefined;
  const str = (v: Variantish | undefined) => (typeof v?.value === 'string' ? v.value : '');
  const schemes = ifaces[IFACE.sources]?.Schemes?.value;
  return {
    name: m[2]!,
    mode: m[1] as SlotModeName,
    path,
    endpointId: str(mp.EndpointId),
    socket: str(mp.Socket),
    imageUrl: str(mp.ImageURL),
    writeProtected: mp.WriteProtected?.value !== false,
    timeout: typeof mp.Timeout?.value === 'number' ? mp.Timeout.value : 30,
    active: ifaces[IFACE.process]?.Active?.value === true,
    schemes: Array.isArray(schemes) ? schemes.filter((s): s is string => typeof s === 'string') : [],
  };
}

export class DaemonClient {
  private readonly completionWaiters = new Map<string, Set<(errno: number) => void>>();

  private constructor(private readonly bus: MessageBus) {
    bus.on('message', (msg: Message) => {
      if (msg.type !== MessageType.SIGNAL || msg.member !== 'Completion') return;
      if (msg.interface !== IFACE.proxy && msg.interface !== IFACE.legacy) return;
      const errno: unknown = msg.body[0];
      for (const waiter of this.completionWaiters.get(msg.path) ?? []) waiter(typeof errno === 'number' ? errno : -1);
    });
  }

  /** `bus`: "system", "session" or a D-Bus address. */
  static async connect(busChoice: BusChoice): Promise<DaemonClient> {
    const bus = await connectBus(busChoice, { fdPassing: true });
    bus.on('error', () => {
      /* a dropped bus fails the calls in flight; nothing else to do */
    });
    const client = new DaemonClient(bus);
    await client.call({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'AddMatch',
      signature: 's',
      body: [`type='signal',sender='${BUS_NAME}',member='Completion',path_namespace='${ROOT_PATH}'`],
    });
    return client;
  }

  disconnect(): void {
    this.bus.disconnect();
  }

  async slots(): Promise<SlotState[]> {
    const reply = await this.call({
      destination: BUS_NAME,
      path: ROOT_PATH,
      interface: IFACE.objectManager,
      member: 'GetManagedObjects',
    });
    const objects = (reply?.body[0] ?? {}) as ManagedObjects;
    return Object.entries(objects)
      .map(([path, ifaces]) => slotFrom(path, ifaces))
      .filter((s): s is SlotState => s !== undefined)
      .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  }

  async slot(name: string): Promise<SlotState | undefined> {
    return (await this.slots()).find((s) => s.name === name);
  }

  /**
   * Calls Mount/Unmount and resolves with the errno of the Completion signal that follows
   * (0 = success). Rejects with DaemonCallError when the daemon refuses the call outright, or
   * CompletionTimeout when no Completion arrives within `waitMs`.
   */
  async operate(
    slot: SlotState,
    member: 'Mount' | 'Unmount',
    args: LegacyMountArgs | undefined,
    waitMs: number,
  ): Promise<number> {
    const iface = slot.mode === 'Proxy' ? IFACE.proxy : IFACE.legacy;
    let onCompletion!: (errno: number) => void;
    const completed = new Promise<number>((resolve) => {
      onCompletion = resolve;
    });
    const waiters = this.completionWaiters.get(slot.path) ?? new Set();
    waiters.add(onCompletion);
    this.completionWaiters.set(slot.path, waiters);
    let timer: NodeJS.Timeout | undefined;
    try {
      const body = args
        ? [args.url, args.rw, args.fd === undefined ? new Variant('i', -1) : new Variant('h', args.fd)]
        : [];
      await this.call({
        destination: BUS_NAME,
        path: slot.path,
        interface: iface,
        member,
        ...(args ? { signature: 'sbv', body } : {}),
      });
      const timeout = new Promise<never>((_r, reject) => {
        timer = setTimeout(
          () => reject(new CompletionTimeout(`no Completion from ${slot.name} within ${waitMs} ms`)),
          waitMs,
        );
      });
      return await Promise.race([completed, timeout]);
    } finally {
      clearTimeout(timer);
      waiters.delete(onCompletion);
    }
  }

  private async call(msg: MessageLike): Promise<Message | null> {
    try {
      return await this.bus.call(new Message(msg));
    } catch (err) {
      if (err instanceof DBusError) throw new DaemonCallError(err.type, err.text ?? err.message);
      throw err;
    }
  }
}

export interface LegacyMountArgs {
  url: string;
  rw: boolean;
  /** Read end of the credentials pipe, or undefined for none (sent as int -1). */
  fd?: number;
}
