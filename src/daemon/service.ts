// Publishes the mount points on the bus as xyz.openbmc_project.VirtualMedia: the ObjectManager
// at the root, one object per slot, the Mount calls that carry an fd (Legacy credentials,
// GeneratedMedia JSON), then the bus name.
import dbus from 'dbus-next';
import type { Logger } from '../log.js';
import type { MountPoint } from '../mountpoint/mount-point.js';
import type { SourceProvider } from '../sources/types.js';
import { BUS_NAME, IFACE, ROOT_PATH, slotPath } from '../dbus/names.js';
import { ObjectManagerInterface } from '../dbus/object-manager.js';
import { readOnlyPropertyHandler } from '../dbus/read-only-guard.js';
import type { GeneratedMediaInterface } from './generated-media-interface.js';
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
  const manager = new ObjectManagerInterface(ROOT_PATH);
  bus.export(ROOT_PATH, manager);
  const interfacesByPath = new Map<string, dbus.interface.Interface[]>();
  const legacyByPath = new Map<string, LegacyInterface>();
  const generatedByPath = new Map<string, GeneratedMediaInterface>();
  for (const mp of mountPoints) {
    const path = slotPath(mp.slot.mode === 'proxy' ? 'Proxy' : 'Legacy', mp.slot.name);
    const { all, legacy, generatedMedia } = slotInterfaces(mp, sources);
    for (const iface of all) bus.export(path, iface);
    if (legacy) legacyByPath.set(path, legacy);
    if (generatedMedia) generatedByPath.set(path, generatedMedia);
    manager.add(path, all);
    interfacesByPath.set(path, all);
  }
  const mountWithFd = fdCallHandler(
    bus,
    (msg) => legacyMountWithFd(msg, legacyByPath) ?? generatedMountWithFd(msg, generatedByPath),
  );
  const readOnly = readOnlyPropertyHandler(bus, interfacesByPath);
  bus.addMethodHandler(mountWithFd);
  bus.addMethodHandler(readOnly);

  const reply = await bus.requestName(BUS_NAME, dbus.NameFlag.DO_NOT_QUEUE);
  if (reply !== dbus.RequestNameReply.PRIMARY_OWNER && reply !== dbus.RequestNameReply.ALREADY_OWNER) {
    throw new Error(`the bus name ${BUS_NAME} is owned by another process`);
  }
  log.info({ busName: BUS_NAME, slots: [...interfacesByPath.keys()] }, 'bus name owned');

  return {
    async unpublish() {
      await bus.releaseName(BUS_NAME).catch(() => undefined);
      bus.removeMethodHandler(mountWithFd);
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
 * Method calls that carry an fd, taken before dbus-next's dispatch, because only a handler that
 * sees the message can take its fd: our patched dbus-next closes every received fd nobody took
 * (patches/dbus-next+*.patch). `take` starts the call and gives its reply, or undefined when the
 * message is not such a call.
 */
function fdCallHandler(bus: dbus.MessageBus, take: (msg: dbus.Message) => Promise<boolean> | undefined) {
  return (msg: dbus.Message): boolean => {
    const reply = take(msg);
    if (!reply) return false;
    reply.then(
      (accepted) => bus.send(dbus.Message.newMethodReturn(msg, 'b', [accepted])),
      (err: dbus.DBusError) => bus.send(dbus.Message.newError(msg as unknown as string, err.type, err.text)),
    );
    return true;
  };
}

/**
 * Legacy Mount with the credentials fd: Mount(s, b, v) with v = h, and Mount(s, b, h) of newer
 * bmcweb (introspection shows one signature per member, Mount sbv as phosphor-dbus-interfaces
 * defines it, and dbus-next dispatches by exact signature).
 */
function legacyMountWithFd(msg: dbus.Message, legacyByPath: ReadonlyMap<string, LegacyInterface>) {
  if (msg.interface !== IFACE.legacy || msg.member !== 'Mount') return undefined;
  const fd = credentialsFdArgument(msg);
  const legacy = legacyByPath.get(msg.path);
  if (fd === undefined || !legacy) return undefined;
  const [url, rw] = msg.body as [string, boolean];
  return legacy.mountWithCredentialsFd(url, rw, msg.takeUnixFd(fd));
}

/** GeneratedMedia.Mount(h json_fd, b rw). */
function generatedMountWithFd(msg: dbus.Message, generatedByPath: ReadonlyMap<string, GeneratedMediaInterface>) {
  if (msg.interface !== IFACE.generatedMedia || msg.member !== 'Mount' || msg.signature !== 'hb') return undefined;
  const generated = generatedByPath.get(msg.path);
  if (!generated) return undefined;
  const [fd, rw] = msg.body as [number, boolean];
  return generated.mountWithJsonFd(msg.takeUnixFd(fd), rw);
}

/** The fd argument of Mount(s, b, h) or of Mount(s, b, v) holding an h; undefined otherwise. */
function credentialsFdArgument(msg: dbus.Message): number | undefined {
  const third: unknown = msg.body[2];
  if (msg.signature === 'sbh') return third as number;
  if (msg.signature === 'sbv' && third instanceof dbus.Variant && third.signature === 'h') return third.value as number;
  return undefined;
}
