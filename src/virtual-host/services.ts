// Publishes the virtual host's services, each on a connection of its own as on an OpenBMC image
// (phosphor-state-manager's host and chassis, phosphor-settingsd), so a service answers only for
// its own objects: its objects, its ObjectManager, then its bus name.
import dbus from 'dbus-next';
import { connectBus } from '../dbus/connect.js';
import type { Logger } from '../log.js';
import { ObjectManagerInterface } from '../dbus/object-manager.js';
import { readOnlyPropertyHandler } from '../dbus/read-only-guard.js';

export interface ServiceSpec {
  busName: string;
  objectManagerPath: string;
  objects: ReadonlyMap<string, readonly dbus.interface.Interface[]>;
}

export interface PublishedServices {
  buses: dbus.MessageBus[];
  /** Closes the connections, which releases the names. */
  close(): Promise<void>;
}

export async function publishServices(
  busAddress: string,
  specs: readonly ServiceSpec[],
  log: Logger,
): Promise<PublishedServices> {
  const buses: dbus.MessageBus[] = [];
  const close = async () => {
    for (const bus of buses) bus.disconnect();
  };
  try {
    for (const spec of specs) {
      const bus = await connectBus(busAddress);
      buses.push(bus);
      for (const [path, ifaces] of spec.objects) for (const iface of ifaces) bus.export(path, iface);
      bus.export(spec.objectManagerPath, new ObjectManagerInterface(spec.objectManagerPath, new Map(spec.objects)));
      bus.addMethodHandler(readOnlyPropertyHandler(bus, spec.objects));
      const reply = await bus.requestName(spec.busName, dbus.NameFlag.DO_NOT_QUEUE);
      if (reply !== dbus.RequestNameReply.PRIMARY_OWNER) {
        throw new Error(`the bus name ${spec.busName} is owned by another process`);
      }
      log.info({ busName: spec.busName, objects: [...spec.objects.keys()] }, 'bus name owned');
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { buses, close };
}
