// The web's only way into the daemon (docs/dbus.md, like bmcweb): read the slots from the
// ObjectManager, call Mount/Unmount and wait for the Completion(errno) signal that reports the
// outcome. Every read goes to the bus, so a GET right after an action sees the daemon's state.
// Only the daemon's own signals count, and no call waits longer than a bounded time.
import { DBusError, Message, MessageType, Variant, type MessageBus, type MessageLike } from 'dbus-next';
import { connectBus, type BusChoice } from '../../dbus/connect.js';
import { BUS_NAME, IFACE, ROOT_PATH, type SlotModeName } from '../../dbus/names.js';
import { NameOwnerWatch } from './name-owner.js';

/** How long a call may wait for its reply: sd-bus's default; VMEDIA_DBUS_TIMEOUT_MS for tests. */
export const CALL_TIMEOUT_MS = Number(process.env.VMEDIA_DBUS_TIMEOUT_MS) || 25_000;

/** Replies meaning nobody owns the daemon's name, or its owner left before answering. */
const DAEMON_ABSENT_ERRORS = new Set([
  'org.freedesktop.DBus.Error.ServiceUnknown',
  'org.freedesktop.DBus.Error.NameHasNoOwner',
  'org.freedesktop.DBus.Error.NoReply',
  'org.freedesktop.DBus.Error.Disconnected',
]);

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
  /** Process.ExitCode: -1 from Mount until the media is gone again, then the last Completion's errno. */
  exitCode: number;
  /** Stats: bytes the host has read and written since the last Mount. */
  readBytes: number;
  writtenBytes: number;
  /** Legacy: URL schemes the daemon can serve now (our Sources interface). */
  schemes: string[];
  /** How the host sees the slot (our Device interface); undefined from a daemon without it. */
  mediaType?: 'CD' | 'USBStick';
  /** Legacy: the generated media attached now (our GeneratedMedia interface); undefined otherwise. */
  generatedMedia?: GeneratedMediaState;
}

/** What GeneratedMedia shows of an attached generated image: never its content. */
export interface GeneratedMediaState {
  nonce: string;
  format: string;
  label: string;
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

/** The daemon is not on the bus, did not answer in time (stopped, overloaded) or left mid-operation. */
export class DaemonUnavailable extends Error {}

/** A pending wait for a slot's next Completion; `cancel` stops it (idempotent). */
export interface CompletionWait {
  /** The errno (0 = success); rejects with CompletionTimeout or DaemonUnavailable. */
  result: Promise<number>;
  cancel(): void;
}

interface CompletionWaiter {
  resolve(errno: number): void;
  reject(err: Error): void;
  /**
   * The serial of the call whose reply has not arrived yet: Completions before it end another
   * client's operation (one that was running when this call came in), not this call's.
   */
  awaitingReplyTo?: number;
}

type Variantish = { value: unknown };
type ManagedObjects = Record<string, Record<string, Record<string, Variantish>>>;

function slotFrom(path: string, ifaces: Record<string, Record<string, Variantish>>): SlotState | undefined {
  const m = /\/(Proxy|Legacy)\/([^/]+)$/.exec(path);
  const mp = ifaces[IFACE.mountPoint];
  if (!m || !mp) return undefined;
  const str = (v: Variantish | undefined) => (typeof v?.value === 'string' ? v.value : '');
  // `t` arrives as a bigint; byte counts of an image stay far below 2^53
  const count = (v: Variantish | undefined) =>
    typeof v?.value === 'bigint' || typeof v?.value === 'number' ? Number(v.value) : 0;
  const schemes = ifaces[IFACE.sources]?.Schemes?.value;
  const mediaType = ifaces[IFACE.device]?.MediaType?.value;
  const exitCode = ifaces[IFACE.process]?.ExitCode?.value;
  const generated = ifaces[IFACE.generatedMedia];
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
    exitCode: typeof exitCode === 'number' ? exitCode : 0,
    readBytes: count(ifaces[IFACE.stats]?.ReadIO),
    writtenBytes: count(ifaces[IFACE.stats]?.WriteIO),
    schemes: Array.isArray(schemes) ? schemes.filter((s): s is string => typeof s === 'string') : [],
    ...(mediaType === 'CD' || mediaType === 'USBStick' ? { mediaType } : {}),
    ...(generated && str(generated.Nonce) !== ''
      ? { generatedMedia: { nonce: str(generated.Nonce), format: str(generated.Format), label: str(generated.Label) } }
      : {}),
  };
}

export class DaemonClient {
  private readonly completionWaiters = new Map<string, Set<CompletionWaiter>>();

  private constructor(
    /** Shared with the host's power and boot client (src/web/host): one bus connection per web. */
    readonly bus: MessageBus,
    daemon: NameOwnerWatch,
  ) {
    // 'message' sees replies and signals in the order the daemon sent them (the daemon replies
    // to a Mount before it can complete it)
    bus.on('message', (msg: Message) => {
      if (msg.type === MessageType.METHOD_RETURN || msg.type === MessageType.ERROR) {
        // a 'u' on the wire, a number at run time (dbus-next's types say string)
        const replied = Number(msg.replySerial);
        for (const waiters of this.completionWaiters.values()) {
          for (const waiter of waiters) if (waiter.awaitingReplyTo === replied) delete waiter.awaitingReplyTo;
        }
        return;
      }
      if (msg.type !== MessageType.SIGNAL || msg.member !== 'Completion') return;
      if (msg.interface !== IFACE.proxy && msg.interface !== IFACE.legacy) return;
      // any peer can send a signal, even addressed to us past the match rule: only the daemon's count
      if (msg.sender === undefined || msg.sender !== daemon.owner) return;
      const errno: unknown = msg.body[0];
      for (const waiter of this.completionWaiters.get(msg.path) ?? []) {
        if (waiter.awaitingReplyTo === undefined) waiter.resolve(typeof errno === 'number' ? errno : -1);
      }
    });
    daemon.onOwnerLost(() => {
      const gone = new DaemonUnavailable('the virtual media daemon left the bus before the operation completed');
      for (const waiters of this.completionWaiters.values()) for (const waiter of waiters) waiter.reject(gone);
    });
  }

  /** `bus`: "system", "session" or a D-Bus address. */
  static async connect(busChoice: BusChoice): Promise<DaemonClient> {
    const bus = await connectBus(busChoice, { fdPassing: true });
    bus.on('error', () => {
      /* a dropped bus: the calls in flight fail at their deadline; nothing else to do */
    });
    const client = new DaemonClient(bus, await NameOwnerWatch.start(bus, BUS_NAME));
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
   * (0 = success). Rejects with DaemonCallError when the daemon refuses the call outright,
   * CompletionTimeout when no Completion arrives within `waitMs`, or DaemonUnavailable.
   */
  async operate(
    slot: SlotState,
    member: 'Mount' | 'Unmount',
    args: LegacyMountArgs | undefined,
    waitMs: number,
  ): Promise<number> {
    const body = args
      ? [args.url, args.rw, args.fd === undefined ? new Variant('i', -1) : new Variant('h', args.fd)]
      : [];
    return this.callUntilCompletion(
      slot,
      {
        destination: BUS_NAME,
        path: slot.path,
        interface: slot.mode === 'Proxy' ? IFACE.proxy : IFACE.legacy,
        member,
        ...(args ? { signature: 'sbv', body } : {}),
      },
      waitMs,
    );
  }

  /**
   * GeneratedMedia.Mount(h json_fd, b rw) on a Legacy slot: `fd` carries the JSON document (and
   * stays the caller's to close once this settles). Resolves and rejects like operate().
   */
  async mountGenerated(slot: SlotState, args: { fd: number; rw: boolean }, waitMs: number): Promise<number> {
    return this.callUntilCompletion(
      slot,
      {
        destination: BUS_NAME,
        path: slot.path,
        interface: IFACE.generatedMedia,
        member: 'Mount',
        signature: 'hb',
        body: [args.fd, args.rw],
      },
      waitMs,
    );
  }

  /**
   * The call, then the errno of the slot's first Completion after its reply. One that comes
   * before the reply belongs to another client's operation: a bridge's Mount accepted just as a
   * racing D-Bus Mount failed must not take that failure for its own.
   */
  private async callUntilCompletion(slot: SlotState, msg: MessageLike, waitMs: number): Promise<number> {
    const message = new Message(msg);
    const called = this.call(message);
    // bus.call numbered the message at once; its reply cannot have been read yet
    const completion = this.nextCompletion(slot, waitMs, message.serial ?? undefined);
    try {
      await called;
      return await completion.result;
    } finally {
      completion.cancel();
    }
  }

  /**
   * Listens for the slot's next Completion from the daemon, from now on: call it before doing
   * what causes the Completion. With `awaitingReplyTo` (a sent call's serial), only a Completion
   * after that call's reply counts. The wait fails after `waitMs` or when the daemon leaves the bus.
   */
  nextCompletion(slot: SlotState, waitMs: number, awaitingReplyTo?: number): CompletionWait {
    const waiters = this.completionWaiters.get(slot.path) ?? new Set<CompletionWaiter>();
    this.completionWaiters.set(slot.path, waiters);
    let waiter!: CompletionWaiter;
    let timer: NodeJS.Timeout | undefined;
    const cancel = () => {
      clearTimeout(timer);
      waiters.delete(waiter);
    };
    const result = new Promise<number>((resolve, reject) => {
      waiter = { resolve, reject, ...(awaitingReplyTo === undefined ? {} : { awaitingReplyTo }) };
      timer = setTimeout(
        () => reject(new CompletionTimeout(`no Completion from ${slot.name} within ${waitMs} ms`)),
        waitMs,
      );
    });
    waiters.add(waiter);
    // settled is done; this also keeps a rejection before the caller awaits from counting as unhandled
    void result.then(cancel, cancel);
    return { result, cancel };
  }

  /** One call with a reply deadline; an absent or silent daemon is DaemonUnavailable. */
  private async call(msg: MessageLike | Message): Promise<Message | null> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new DaemonUnavailable(`the virtual media daemon did not answer ${msg.member} within ${CALL_TIMEOUT_MS} ms`),
          ),
        CALL_TIMEOUT_MS,
      );
    });
    try {
      return await Promise.race([this.bus.call(msg instanceof Message ? msg : new Message(msg)), deadline]);
    } catch (err) {
      if (!(err instanceof DBusError)) throw err;
      if (DAEMON_ABSENT_ERRORS.has(err.type)) {
        throw new DaemonUnavailable(`the virtual media daemon is not on the bus (${err.type})`);
      }
      throw new DaemonCallError(err.type, err.text ?? err.message);
    } finally {
      clearTimeout(timer);
    }
  }
}

export interface LegacyMountArgs {
  url: string;
  rw: boolean;
  /** Read end of the credentials pipe, or undefined for none (sent as int -1). */
  fd?: number;
}
