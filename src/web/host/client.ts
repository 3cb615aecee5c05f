// The web's way to the host's power and boot settings (properties.ts): Properties.Get and Set,
// as bmcweb calls them, each with a reply deadline. A service that is not on the bus or does not
// answer is HostUnavailable, which the Redfish routes answer like an absent daemon (503).
import { DBusError, Message, Variant, type MessageBus } from 'dbus-next';
import { CALL_TIMEOUT_MS, DaemonUnavailable } from '../daemon/client.js';
import { HOST_PROPERTIES, type HostProperty, type HostPropertyName, type HostWrite } from './properties.js';

/** Replies meaning nobody owns the service's name, or its owner left before answering. */
const ABSENT_ERRORS = new Set([
  'org.freedesktop.DBus.Error.ServiceUnknown',
  'org.freedesktop.DBus.Error.NameHasNoOwner',
  'org.freedesktop.DBus.Error.NoReply',
  'org.freedesktop.DBus.Error.Disconnected',
]);

/** The host's service is not on the bus or did not answer in time (e.g. no host managed here). */
export class HostUnavailable extends DaemonUnavailable {}

/** The service answered with an error (e.g. sdbusplus's InvalidEnumString, an unknown property). */
export class HostCallError extends Error {
  constructor(
    readonly errorName: string,
    message: string,
  ) {
    super(message);
    this.name = 'HostCallError';
  }
}

export class HostClient {
  constructor(private readonly bus: MessageBus) {}

  async get(name: HostPropertyName): Promise<unknown> {
    const p: HostProperty = HOST_PROPERTIES[name];
    const reply = await this.call(p, 'Get', 'ss', [p.iface, p.name]);
    const value: unknown = reply?.body[0];
    return value instanceof Variant ? value.value : undefined;
  }

  /** The property's value, or undefined when its service is absent or cannot give it (optional objects, as bmcweb has them). */
  async read(name: HostPropertyName): Promise<unknown> {
    try {
      return await this.get(name);
    } catch (err) {
      if (err instanceof HostUnavailable || err instanceof HostCallError) return undefined;
      throw err;
    }
  }

  async write({ property, value }: HostWrite): Promise<void> {
    const p: HostProperty = HOST_PROPERTIES[property];
    await this.call(p, 'Set', 'ssv', [p.iface, p.name, new Variant(p.signature, value)]);
  }

  private async call(p: HostProperty, member: string, signature: string, body: unknown[]): Promise<Message | null> {
    const what = `${p.service} ${member} ${p.name}`;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new HostUnavailable(`${what}: no answer within ${CALL_TIMEOUT_MS} ms`)),
        CALL_TIMEOUT_MS,
      );
    });
    const msg = new Message({
      destination: p.service,
      path: p.path,
      interface: 'org.freedesktop.DBus.Properties',
      member,
      signature,
      body,
    });
    try {
      return await Promise.race([this.bus.call(msg), deadline]);
    } catch (err) {
      if (!(err instanceof DBusError)) throw err;
      if (ABSENT_ERRORS.has(err.type)) throw new HostUnavailable(`${p.service} is not on the bus (${err.type})`);
      throw new HostCallError(err.type, `${what}: ${err.text ?? err.message}`);
    } finally {
      clearTimeout(timer);
    }
  }
}
