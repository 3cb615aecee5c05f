// Written enum properties take the full phosphor string; anything else is refused with the
// error sdbusplus gives, so a busctl user or bmcweb sees what an OpenBMC image would answer.
import dbus from 'dbus-next';
import { INVALID_ENUM_ERROR } from '../dbus/phosphor.js';

/** The short name of `value` among the enum's strings, e.g. "On" for "…State.Host.Transition.On". */
export function enumName<T extends string>(strings: Record<T, string>, value: string): T {
  const found = (Object.entries(strings) as [T, string][]).find(([, full]) => full === value);
  if (!found) {
    throw new dbus.DBusError(
      INVALID_ENUM_ERROR,
      `An enumeration mapping was attempted for which no valid enumeration value exists: '${value}'`,
    );
  }
  return found[0];
}
