// Publishes the mount points on the bus as xyz.openbmc_project.VirtualMedia: the ObjectManager
// at the root, one object per slot, the Legacy Mount(sbh) call form, then the bus name.
import { closeSync } from 'node:fs';
import dbus from 'dbus-next';
import type { Logger } from '../log.js';
import type { MountPoint } from '../mountpoint/mount-point.js';
import type { SourceProvider } from '../sources/types.js';
import { BUS_NAME, IFACE, ROOT_PATH, slotPath } from '../dbus/names.js';
import { interfaceName, propertyTable } from './interface-info.js';
import { ObjectManagerInterface } from './object-manager.js';
import { slotInterfaces, type LegacyInterface } from './slot-interfaces.js';

export interface PublishedService {
  /** Releases the bus name and removes the objects (InterfacesRemoved). */
  unpublish(): Promise<void>;
}

export async function publishVirtualMedia(
  bus: dbus.MessageBus,
  mountPoints: readonly MountPoint[],
  sources: SourceProvider,
  log: Logger,
): Promise<PublishedService> {
  const manager = new ObjectManagerInterface();
  bus.export(ROOT_PATH, manager);
  const interfacesByPath = new Map<string, dbus.interface.Interface[]>();
  const legacyByPath = new Map<string, LegacyInterface>();
  for (const mp of mountPoints) {
    const path = slotPath(mp.slot.mode === 'proxy' ? 'Proxy' : 'Legacy', mp.slot.name);
    const { all, legacy } = slotInterfaces(mp, sources);
    for (const iface of all) bus.export(path, iface);
    if (legacy) legacyByPath.set(path, legacy);
    manager.add(path, all);
    interfacesByPath.set(path, all);
  }
  const mountSbh = legacyMountSbhHandler(bus, legacyByPath);
  const readOnly = readOnlyPropertyHandler(bus, interfacesByPath);
  bus.addMethodHandler(mountSbh);
  bus.addMethodHandler(readOnly);

  const reply = await bus.requestName(BUS_NAME, dbus.NameFlag.DO_NOT_QUEUE);
  if (reply !== dbus.RequestNameReply.PRIMARY_OWNER && reply !== dbus.RequestNameReply.ALREADY_OWNER) {
    throw new Error(`the bus name ${BUS_NAME} is owned by another process`);
  }
  log.info({ busName: BUS_NAME, slots: [...interfacesByPath.keys()] }, 'bus name owned');

  return {
    async unpublish() {
      await bus.releaseName(BUS_NAME).catch(() => undefined);
      bus.removeMethodHandler(mountSbh);
      bus.removeMethodHandler(readOnly);
      for (const path of interfacesByPath.keys()) {
        manager.remove(path);
        // without an interface: dbus-next 0.10 drops the whole object after unexporting the first one
        (bus.unexport as (path: string) => void)(path);
      }
      (bus.unexport as (path: string) => void)(ROOT_PATH);
    },
  };
}

/**
 * D-Bus introspection shows one signature per member (Mount sbv, as phosphor-dbus-interfaces
 * defines it); newer bmcweb calls Mount(s, b, h). dbus-next dispatches by exact signature, so
 * that form is taken here, before signature dispatch.
 */
function legacyMountSbhHandler(bus: dbus.MessageBus, legacyByPath: ReadonlyMap<string, LegacyInterface>) {
  return (msg: dbus.Message): boolean => {
    if (msg.interface !== IFACE.legacy || msg.member !== 'Mount' || msg.signature !== 'sbh') return false;
    const [url, rw, fd] = msg.body as [string, boolean, number];
    const legacy = legacyByPath.get(msg.path);
    if (!legacy) {
      closeSync(fd); // received with the call: ours to close, even when nobody takes the call
      return false;
    }
    legacy.mountWithCredentialsFd(url, rw, fd).then(
      (accepted) => bus.send(dbus.Message.newMethodReturn(msg, 'b', [accepted])),
      (err: dbus.DBusError) => bus.send(dbus.Message.newError(msg as unknown as string, err.type, err.text)),
    );
    return true;
  };
}

/**
 * Properties.Set on a read-only property: dbus-next 0.10 sends its error and then carries on
 * (a second reply); answer here instead, once, as sd-bus does.
 */
function readOnlyPropertyHandler(
  bus: dbus.MessageBus,
  interfacesByPath: ReadonlyMap<string, dbus.interface.Interface[]>,
) {
  return (msg: dbus.Message): boolean => {
    if (msg.interface !== IFACE.properties || msg.member !== 'Set' || msg.signature !== 'ssv') return false;
    const [ifaceName, property] = msg.body as [string, string];
    const iface = interfacesByPath.get(msg.path)?.find((i) => interfaceName(i) === ifaceName);
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
