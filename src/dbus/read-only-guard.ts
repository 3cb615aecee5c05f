// Properties.Set on a read-only property: dbus-next 0.10 sends its error and then carries on (a
// second reply). This handler answers first, once, with sd-bus's error.
import dbus from 'dbus-next';
import { interfaceName, propertyTable } from './interface-info.js';
import { IFACE } from './names.js';

/** A bus method handler (bus.addMethodHandler) for the objects exported on that bus. */
export function readOnlyPropertyHandler(
  bus: dbus.MessageBus,
  objects: ReadonlyMap<string, readonly dbus.interface.Interface[]>,
) {
  return (msg: dbus.Message): boolean => {
    if (msg.interface !== IFACE.properties || msg.member !== 'Set' || msg.signature !== 'ssv') return false;
    const [ifaceName, property] = msg.body as [string, string];
    const iface = objects.get(msg.path)?.find((i) => interfaceName(i) === ifaceName);
    if (!iface || propertyTable(iface)[property]?.access !== 'read') return false;
    bus.send(
      dbus.Message.newError(
        msg as unknown as string,
        'org.freedesktop.DBus.Error.PropertyReadOnly',
        `${property} is read-only`,
      ),
    );
    return true;
  };
}
