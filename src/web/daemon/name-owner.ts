// Which connection owns a well-known bus name now (its unique name, e.g. ":1.42"). Signals carry
// the sender's unique name, so this is what tells the daemon's Completion from one any other
// peer sends; a restarted daemon has a new unique name, announced by NameOwnerChanged.
import { DBusError, Message, MessageType, type MessageBus } from 'dbus-next';

const DBUS = { destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus' };

export class NameOwnerWatch {
  private current: string | undefined;
  /** NameOwnerChanged signals seen so far: a GetNameOwner reply older than one of them is stale. */
  private changes = 0;
  private readonly lostListeners = new Set<() => void>();

  private constructor(
    private readonly bus: MessageBus,
    private readonly name: string,
  ) {
    bus.on('message', (msg: Message) => {
      if (msg.type !== MessageType.SIGNAL || msg.sender !== DBUS.destination) return;
      if (msg.interface !== DBUS.interface || msg.member !== 'NameOwnerChanged' || msg.body[0] !== name) return;
      const [, oldOwner, newOwner] = msg.body as [string, string, string];
      this.changes++;
      this.current = newOwner || undefined;
      if (oldOwner) for (const listener of this.lostListeners) listener();
    });
  }

  /** Subscribes to the name's owner changes first, then asks for its owner, so no change is missed. */
  static async start(bus: MessageBus, name: string): Promise<NameOwnerWatch> {
    const watch = new NameOwnerWatch(bus, name);
    await bus.call(
      new Message({
        ...DBUS,
        member: 'AddMatch',
        signature: 's',
        body: [`type='signal',sender='${DBUS.destination}',member='NameOwnerChanged',arg0='${name}'`],
      }),
    );
    const seen = watch.changes;
    const owner = await watch.askOwner();
    if (watch.changes === seen) watch.current = owner;
    return watch;
  }

  /** The owner's unique name, or undefined while nobody owns the name. */
  get owner(): string | undefined {
    return this.current;
  }

  /** Called whenever the connection that owned the name lets go of it (exit, crash, restart). */
  onOwnerLost(listener: () => void): void {
    this.lostListeners.add(listener);
  }

  private async askOwner(): Promise<string | undefined> {
    try {
      const reply = await this.bus.call(
        new Message({ ...DBUS, member: 'GetNameOwner', signature: 's', body: [this.name] }),
      );
      const owner: unknown = reply?.body[0];
      return typeof owner === 'string' ? owner : undefined;
    } catch (err) {
      if (err instanceof DBusError && err.type === 'org.freedesktop.DBus.Error.NameHasNoOwner') return undefined;
      throw err;
    }
  }
}
