// The D-Bus contract (docs/dbus.md, compatible with OpenBMC): shared by the daemon that
// serves it and the web frontend that calls it.

export const BUS_NAME = 'xyz.openbmc_project.VirtualMedia';
export const ROOT_PATH = '/xyz/openbmc_project/VirtualMedia';

export const IFACE = {
  mountPoint: 'xyz.openbmc_project.VirtualMedia.MountPoint',
  process: 'xyz.openbmc_project.VirtualMedia.Process',
  proxy: 'xyz.openbmc_project.VirtualMedia.Proxy',
  legacy: 'xyz.openbmc_project.VirtualMedia.Legacy',
  stats: 'xyz.openbmc_project.VirtualMedia.Stats',
  /** Ours, on Legacy slots: property `Schemes` (as), the URL schemes the daemon can serve now,
   *  so Redfish advertises exactly those (TransferProtocolType@Redfish.AllowableValues). */
  sources: 'xyz.openbmc_project.VirtualMedia.Sources',
  /** Ours, on every slot: property `MediaType` (s), "CD" or "USBStick" from the config, how the
   *  host sees the slot; Redfish MediaTypes follow it (Ironic picks a slot by its MediaTypes). */
  device: 'xyz.openbmc_project.VirtualMedia.Device',
  /** Ours, on Legacy slots: Mount(h json_fd, b rw) attaches an image the daemon builds from a
   *  JSON document (config drive, NoCloud, floppy); properties Nonce, Format, Label. */
  generatedMedia: 'xyz.openbmc_project.VirtualMedia.GeneratedMedia',
  objectManager: 'org.freedesktop.DBus.ObjectManager',
  properties: 'org.freedesktop.DBus.Properties',
} as const;

export type SlotModeName = 'Proxy' | 'Legacy';

export function slotPath(mode: SlotModeName, slot: string): string {
  return `${ROOT_PATH}/${mode}/${slot}`;
}

/** sd-bus maps errno N to the error name System.Error.<NAME>; bmcweb and busctl users expect it. */
export function errnoErrorName(errno: string): string {
  return `System.Error.${errno}`;
}
