// What dbus-next keeps about an exported interface (its name and property table) but does not
// expose in its types: read in one place.
import dbus from 'dbus-next';

interface PropertyInfo {
  signature: string;
  access: 'read' | 'write' | 'readwrite';
}

export function interfaceName(iface: dbus.interface.Interface): string {
  return (iface as unknown as { $name: string }).$name;
}

export function propertyTable(iface: dbus.interface.Interface): Readonly<Record<string, PropertyInfo>> {
  return (iface as unknown as { $properties?: Record<string, PropertyInfo> }).$properties ?? {};
}

/** The readable properties of an exported interface, as GetAll would return them. */
export function propertiesOf(iface: dbus.interface.Interface): Record<string, dbus.Variant> {
  const values: Record<string, dbus.Variant> = {};
  for (const [name, p] of Object.entries(propertyTable(iface))) {
    if (p.access === 'write') continue;
    values[name] = new dbus.Variant(p.signature, (iface as unknown as Record<string, unknown>)[name]);
  }
  return values;
}
