// org.freedesktop.DBus.ObjectManager where the OpenBMC services put theirs: phosphor-settingsd
// at "/", phosphor-state-manager at host0 and chassis0. As the D-Bus spec (and sd-bus) has it,
// GetManagedObjects lists the objects below the manager's path, not the one at it. bmcweb reads
// power and boot settings with Properties.Get, so this serves busctl and the object mapper.
import dbus from 'dbus-next';
import { interfaceName, propertyValues } from './interface-properties.js';

type InterfaceProperties = Record<string, Record<string, dbus.Variant>>;

export class ObjectManagerInterface extends dbus.interface.Interface {
  constructor(
    private readonly path: string,
    private readonly objects: ReadonlyMap<string, readonly dbus.interface.Interface[]>,
  ) {
    super('org.freedesktop.DBus.ObjectManager');
  }

  GetManagedObjects(): Record<string, InterfaceProperties> {
    const prefix = this.path === '/' ? '/' : `${this.path}/`;
    const result: Record<string, InterfaceProperties> = {};
    for (const [path, ifaces] of this.objects) {
      if (!path.startsWith(prefix)) continue;
      result[path] = Object.fromEntries(ifaces.map((i) => [interfaceName(i), propertyValues(i)]));
    }
    return result;
  }

  // The objects live as long as the process: these are declared for introspection, never sent.
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
