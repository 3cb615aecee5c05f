// The D-Bus interfaces of one slot object (docs/dbus.md, compat with OpenBMC): MountPoint,
// Process, Stats, Proxy or Legacy, and ours: Device, and Sources on Legacy. They read the mount
// point's status and forward its changes as PropertiesChanged and its outcomes as Completion(i).
import dbus from 'dbus-next';
import { MountError } from '../errno.js';
import type { MountPoint } from '../mountpoint/mount-point.js';
import type { MountPointStatus } from '../mountpoint/types.js';
import type { Credentials, SourceProvider } from '../sources/types.js';
import { readCredentials } from './credentials-reader.js';
import { toDBusError } from './dbus-errors.js';
import { GeneratedMediaInterface } from './generated-media-interface.js';
import { IFACE } from '../dbus/names.js';

const { Interface } = dbus.interface;

function refuseWrite(property: string): never {
  throw toDBusError(new MountError('EPERM', `${property} is set by Mount/Unmount, not written directly`));
}

class MountPointInterface extends Interface {
  constructor(private readonly mp: MountPoint) {
    super(IFACE.mountPoint);
  }
  get Device(): string {
    return this.mp.slot.nbdDevice;
  }
  get EndpointId(): string {
    return this.mp.slot.endpointId;
  }
  get Socket(): string {
    return this.mp.slot.unixSocket;
  }
  get ImageURL(): string {
    return this.mp.status.imageUrl;
  }
  set ImageURL(_value: string) {
    refuseWrite('ImageURL');
  }
  get WriteProtected(): boolean {
    return this.mp.status.writeProtected;
  }
  get Timeout(): number {
    return this.mp.slot.timeout;
  }
  get RemainingInactivityTimeout(): number {
    return this.mp.status.remainingInactivityTimeout;
  }
  set RemainingInactivityTimeout(_value: number) {
    refuseWrite('RemainingInactivityTimeout');
  }
}
MountPointInterface.configureMembers({
  properties: {
    Device: { signature: 's', access: 'read' },
    EndpointId: { signature: 's', access: 'read' },
    Socket: { signature: 's', access: 'read' },
    ImageURL: { signature: 's', access: 'readwrite' },
    WriteProtected: { signature: 'b', access: 'read' },
    Timeout: { signature: 'i', access: 'read' },
    RemainingInactivityTimeout: { signature: 'i', access: 'readwrite' },
  },
});

class ProcessInterface extends Interface {
  constructor(private readonly mp: MountPoint) {
    super(IFACE.process);
  }
  get Active(): boolean {
    return this.mp.status.active;
  }
  get ExitCode(): number {
    return this.mp.status.exitCode;
  }
}
ProcessInterface.configureMembers({
  properties: {
    Active: { signature: 'b', access: 'read' },
    ExitCode: { signature: 'i', access: 'read' },
  },
});

class StatsInterface extends Interface {
  constructor(private readonly mp: MountPoint) {
    super(IFACE.stats);
  }
  get ReadIO(): bigint {
    return this.mp.status.readBytes;
  }
  get WriteIO(): bigint {
    return this.mp.status.writeBytes;
  }
}
StatsInterface.configureMembers({
  properties: {
    ReadIO: { signature: 't', access: 'read' },
    WriteIO: { signature: 't', access: 'read' },
  },
});

/** Mount/Unmount answer true once accepted; Completion(i) carries the outcome. */
abstract class MountControlInterface extends Interface {
  constructor(
    name: string,
    protected readonly mp: MountPoint,
  ) {
    super(name);
  }
  Unmount(): boolean {
    try {
      this.mp.unmount();
    } catch (err) {
      throw toDBusError(err);
    }
    return true;
  }
  Completion(code: number): number {
    return code;
  }
}

class ProxyInterface extends MountControlInterface {
  constructor(mp: MountPoint) {
    super(IFACE.proxy, mp);
  }
  Mount(): boolean {
    try {
      // the browser's file cannot be written back to: Proxy media is read-only
      this.mp.mount({ url: '', writable: false });
    } catch (err) {
      throw toDBusError(err);
    }
    return true;
  }
}
ProxyInterface.configureMembers({
  methods: {
    Mount: { inSignature: '', outSignature: 'b' },
    Unmount: { inSignature: '', outSignature: 'b' },
  },
  signals: { Completion: { signature: 'i' } },
});

export class LegacyInterface extends MountControlInterface {
  constructor(mp: MountPoint) {
    super(IFACE.legacy, mp);
  }
  /**
   * Mount(s url, b rw, v fd) without credentials: v is i -1. With a credentials pipe (v is h)
   * the daemon's low-level handler takes the call and its fd to mountWithCredentialsFd.
   */
  Mount(url: string, rw: boolean, fd: dbus.Variant): boolean {
    if (fd.signature === 'i' && fd.value === -1) return this.mountWithCredentials(url, rw, undefined);
    throw toDBusError(
      new MountError(
        'EINVAL',
        `the third Mount argument must be a pipe fd (h) or -1 (i), not ${fd.signature} ${String(fd.value)}`,
      ),
    );
  }
  /** Mount with a credentials pipe, Mount(s, b, h) or Mount(s, b, v = h): `fd` is now ours to close. */
  async mountWithCredentialsFd(url: string, rw: boolean, fd: number): Promise<boolean> {
    let credentials: Credentials;
    try {
      credentials = await readCredentials(fd);
    } catch (err) {
      throw toDBusError(err);
    }
    return this.mountWithCredentials(url, rw, credentials);
  }
  private mountWithCredentials(url: string, rw: boolean, credentials: Credentials | undefined): boolean {
    try {
      this.mp.mount({ url, writable: rw, credentials });
    } catch (err) {
      credentials?.password.fill(0);
      throw toDBusError(err);
    }
    return true;
  }
}
LegacyInterface.configureMembers({
  methods: {
    Mount: { inSignature: 'sbv', outSignature: 'b' },
    Unmount: { inSignature: '', outSignature: 'b' },
  },
  signals: { Completion: { signature: 'i' } },
});

/** Ours, on Legacy slots: the URL schemes the daemon can serve, so Redfish advertises exactly these. */
class SourcesInterface extends Interface {
  constructor(private readonly sources: SourceProvider) {
    super(IFACE.sources);
  }
  get Schemes(): string[] {
    return this.sources.schemes();
  }
}
SourcesInterface.configureMembers({
  properties: { Schemes: { signature: 'as', access: 'read' } },
});

/** Ours, on every slot: the kind of device the host sees, so Redfish can give exact MediaTypes. */
class DeviceInterface extends Interface {
  constructor(private readonly mp: MountPoint) {
    super(IFACE.device);
  }
  get MediaType(): string {
    return this.mp.slot.mediaType;
  }
}
DeviceInterface.configureMembers({
  properties: { MediaType: { signature: 's', access: 'read' } },
});

/** Which interface property shows each status field. */
const STATUS_PROPERTY: Record<keyof MountPointStatus, [iface: 'mountPoint' | 'process' | 'stats', name: string]> = {
  imageUrl: ['mountPoint', 'ImageURL'],
  writeProtected: ['mountPoint', 'WriteProtected'],
  remainingInactivityTimeout: ['mountPoint', 'RemainingInactivityTimeout'],
  active: ['process', 'Active'],
  exitCode: ['process', 'ExitCode'],
  readBytes: ['stats', 'ReadIO'],
  writeBytes: ['stats', 'WriteIO'],
};

export interface SlotInterfaces {
  all: dbus.interface.Interface[];
  /** Set on Legacy slots: targets of the low-level handler of Mount calls that carry an fd. */
  legacy?: LegacyInterface;
  generatedMedia?: GeneratedMediaInterface;
}

export function slotInterfaces(mp: MountPoint, sources: SourceProvider): SlotInterfaces {
  const byRole = {
    mountPoint: new MountPointInterface(mp),
    process: new ProcessInterface(mp),
    stats: new StatsInterface(mp),
  };
  const control = mp.slot.mode === 'proxy' ? new ProxyInterface(mp) : new LegacyInterface(mp);
  mp.on('change', (changed) => {
    const perInterface = new Map<dbus.interface.Interface, Record<string, unknown>>();
    for (const [key, value] of Object.entries(changed)) {
      const [role, name] = STATUS_PROPERTY[key as keyof MountPointStatus];
      const iface = byRole[role];
      perInterface.set(iface, { ...perInterface.get(iface), [name]: value });
    }
    for (const [iface, props] of perInterface) Interface.emitPropertiesChanged(iface, props, []);
  });
  mp.on('completion', (_result, code) => control.Completion(code));
  const all: dbus.interface.Interface[] = [
    byRole.mountPoint,
    byRole.process,
    control,
    byRole.stats,
    new DeviceInterface(mp),
  ];
  if (control instanceof LegacyInterface) {
    const generatedMedia = new GeneratedMediaInterface(mp);
    all.push(new SourcesInterface(sources), generatedMedia);
    return { all, legacy: control, generatedMedia };
  }
  return { all };
}
