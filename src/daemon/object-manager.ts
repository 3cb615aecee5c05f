// org.freedesktop.DBus.ObjectManager at the service root (dbus-next has none built in):
// bmcweb and OpenBMC's object mapper list the slots with GetManagedObjects and follow
// InterfacesAdded/InterfacesRemoved.
import dbus from 'dbus-next';
import { interfaceName, propertiesOf } from './interface-info.js';
import { IFACE } from '../dbus/names.js';

type InterfaceProperties = Record<string, Record<string, dbus.Variant>>;

export class ObjectManagerInterface extends dbus.interface.Interface {
  private readonly objects = new Map<string, dbus.interface.Interface[]>();

  constructor() {
    super(IFACE.objectManager);
  }

  add(path: string, ifaces: dbus.interface.Interface[]): void {
    this.objects.set(path, ifaces);
    this.InterfacesAdded(path, Object.fromEntries(ifaces.map((i) => [interfaceName(i), propertiesOf(i)])));
  }

  remove(path: string): void {
    const ifaces = this.objects.get(path);
    if (!ifaces) return;
    this.objects.delete(path);
    this.InterfacesRemoved(path, ifaces.map(interfaceName));
  }

  GetManagedObjects(): Record<string, InterfaceProperties> {
    const result: Record<string, InterfaceProperties> = {};
    for (const [path, ifaces] of this.objects) {
      result[path] = Object.fromEntries(ifaces.map((i) => [interfaceName(i), propertiesOf(i)]));
    }
    return result;
  }

  InterfacesAdded(path: string, ifaces: InterfaceProperties): [string, InterfaceProperties] {
    return [path, ifaces];
  }

  InterfacesRemoved(path: string, names: string[]): [string, string[]] {
    return [path, names];
  }
}

ObjectManagerInterface.configureMembers({
  methods: { GetManagedObjects: { inSignature: '', outSignature: 'a{oa{sa{sv}}}' } },
  signals: {
    InterfacesAdded: { signature: 'oa{sa{sv}}' },
    InterfacesRemoved: { signature: 'oas' },
  },
});
