// org.freedesktop.DBus.ObjectManager (dbus-next has none built in). The daemon keeps one at its
// root, where bmcweb and OpenBMC's object mapper list the slots with GetManagedObjects and follow
// InterfacesAdded/InterfacesRemoved; the virtual host keeps them where phosphor-settingsd ("/")
// and phosphor-state-manager (host0, chassis0) put theirs. As the D-Bus spec (and sd-bus) has
// it, GetManagedObjects lists the objects below the manager's path, not the one at it.
import dbus from 'dbus-next';
import { interfaceName, propertiesOf } from './interface-info.js';
import { IFACE } from './names.js';

type InterfaceProperties = Record<string, Record<string, dbus.Variant>>;

export class ObjectManagerInterface extends dbus.interface.Interface {
  /**
   * @param path where the manager is exported
   * @param objects the objects by path; add() and remove() change it and announce the change
   */
  constructor(
    private readonly path: string,
    private readonly objects: Map<string, readonly dbus.interface.Interface[]> = new Map(),
  ) {
    super(IFACE.objectManager);
  }

  add(path: string, ifaces: readonly dbus.interface.Interface[]): void {
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
    const prefix = this.path === '/' ? '/' : `${this.path}/`;
    const result: Record<string, InterfaceProperties> = {};
    for (const [path, ifaces] of this.objects) {
      if (!path.startsWith(prefix)) continue;
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
