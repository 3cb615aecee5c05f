// MountError → the D-Bus error sd-bus would send for its errno (System.Error.<NAME>), with the
// human-readable message as the error text.
import { DBusError } from 'dbus-next';
import { MountError } from '../errno.js';
import { errnoErrorName } from '../dbus/names.js';

export function toDBusError(err: unknown): DBusError {
  if (err instanceof DBusError) return err;
  if (err instanceof MountError) return new DBusError(errnoErrorName(err.errno), err.message);
  return new DBusError(errnoErrorName('EIO'), err instanceof Error ? err.message : String(err));
}
