// org.freedesktop.DBus.ObjectManager at the service root (dbus-next has none built in):
// bmcweb and OpenBMC's object mapper list the slots with GetManagedObjects and follow
// InterfacesAdded/InterfacesRemoved.
import dbus from 'dbus-next';
import { IFACE } from './names.js';

type PropertyTable = Record<string, { signature: string; access: string }>;
type InterfaceProperties = Record<string, Record<string, dbus.Variant>>;

/** The readable properties of an exported interface, as GetAll would return them. */
export function propertiesOf(iface: dbus.interface.Interface): Record<string, dbus.Variant> {
  const table = (iface as unknown as { $properties?: PropertyTable }).$properties ?? {};
  const values: Record<string, dbus.Variant> = {};
  for (const [name, p] of Object.entries(table)) {
    if (p.access === 'write') continue;
    values[name] = new dbus.Variant(p.signature, (iface as unknown as Record<string, unknown>)[name]);
  }
  return values;
}

function interfaceName(iface: dbus.interface.Interface): string {
  return (iface as unknown as { $name: string }).$name;
}

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
