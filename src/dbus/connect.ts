// Connects to a D-Bus bus by name ("system", "session") or address, with unix fd passing
// (the Legacy credentials pipe arrives as an fd). dbus-next passes fds only through the native
// usocket module and silently drops them without it, so its absence is an error here.
import { createRequire } from 'node:module';
import dbus from 'dbus-next';

/** "system", "session" or a D-Bus address. */
export type BusChoice = string;

export function busAddress(choice: BusChoice): string {
  if (choice === 'system') return process.env.DBUS_SYSTEM_BUS_ADDRESS ?? 'unix:path=/run/dbus/system_bus_socket';
  if (choice === 'session') {
    const address = process.env.DBUS_SESSION_BUS_ADDRESS;
    if (!address) throw new Error('--bus session: DBUS_SESSION_BUS_ADDRESS is not set');
    return address;
  }
  return choice;
}

export function assertFdPassingAvailable(): void {
  try {
    createRequire(import.meta.url)('usocket');
  } catch (err) {
    throw new Error(
      `D-Bus fd passing needs the native module usocket, which is not installed (run scripts/setup.sh): ${(err as Error).message}`,
    );
  }
}

/** Resolves once the bus accepted the connection (Hello answered). */
export function connectBus(choice: BusChoice, opts: { fdPassing?: boolean } = {}): Promise<dbus.MessageBus> {
  if (opts.fdPassing) assertFdPassingAvailable();
  const address = busAddress(choice);
  const bus = dbus.sessionBus({ busAddress: address, negotiateUnixFd: opts.fdPassing } as dbus.SessionBusOptions);
  return new Promise((resolve, reject) => {
    const onError = (err: unknown) => {
      bus.removeListener('connect', onConnect);
      reject(new Error(`cannot connect to D-Bus at ${address}: ${err instanceof Error ? err.message : String(err)}`));
    };
    const onConnect = () => {
      bus.removeListener('error', onError);
      resolve(bus);
    };
    bus.once('error', onError);
    bus.once('connect', onConnect);
  });
}

/** Calls back once when the connection fails or the bus closes it (dbus-next reports a clean
 *  close only on its internal connection object, not on the MessageBus). */
export function onBusLost(bus: dbus.MessageBus, callback: (why: string) => void): void {
  let reported = false;
  const report = (why: string) => {
    if (reported) return;
    reported = true;
    callback(why);
  };
  bus.on('error', (err: Error) => report(err.message));
  (bus as unknown as { _connection: NodeJS.EventEmitter })._connection.once('end', () =>
    report('the bus closed the connection'),
  );
}
