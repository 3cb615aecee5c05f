// The host's power and boot services as an OpenBMC image serves them to bmcweb, for Redfish
// tests on the stack's private bus: phosphor-state-manager's host0 and chassis0 and
// phosphor-settingsd's boot override objects, each service on a connection of its own, with
// phosphor-dbus-interfaces' types, defaults and enum strings (src/virtual-host/names.ts). A
// written string outside its enum is refused with sdbusplus's error; every accepted Set is
// recorded, so a test sees exactly what the web wrote. Nothing happens on a transition: the
// test sets the state it wants to read.
import dbus from 'dbus-next';
import { connectBus } from '../../src/dbus/connect.js';
import { enumName } from '../../src/virtual-host/enum-value.js';
import {
  BOOT_PATH,
  BootMode,
  BootSource,
  BootType,
  CHASSIS_PATH,
  CHASSIS_SERVICE,
  ChassisTransition,
  HOST_PATH,
  HOST_SERVICE,
  HostState,
  HostTransition,
  IFACE,
  ONE_TIME_PATH,
  PowerState,
  SETTINGS_SERVICE,
} from '../../src/dbus/phosphor.js';

type Value = string | boolean;

interface PropertySpec {
  initial: Value;
  /** The enum a string must belong to (short name → full string). */
  values?: Record<string, string>;
}

/** One accepted Properties.Set. */
export interface PhosphorWrite {
  path: string;
  iface: string;
  property: string;
  value: Value;
}

export interface PhosphorFixture {
  /** The writes since the last clearWrites(), in order. */
  readonly writes: PhosphorWrite[];
  clearWrites(): void;
  /** Sets a value as the service itself would (e.g. CurrentHostState), recording nothing. */
  set(path: string, iface: string, property: string, value: Value): void;
  /** Releases the bus names: the services are gone. */
  stop(): void;
}

interface ObjectSpec {
  path: string;
  iface: string;
  properties: Record<string, PropertySpec>;
}

const SERVICES: Record<string, ObjectSpec[]> = {
  [HOST_SERVICE]: [
    {
      path: HOST_PATH,
      iface: IFACE.host,
      properties: {
        RequestedHostTransition: { initial: HostTransition.Off, values: HostTransition },
        CurrentHostState: { initial: HostState.Off, values: HostState },
      },
    },
  ],
  [CHASSIS_SERVICE]: [
    {
      path: CHASSIS_PATH,
      iface: IFACE.chassis,
      properties: {
        RequestedPowerTransition: { initial: ChassisTransition.Off, values: ChassisTransition },
        CurrentPowerState: { initial: PowerState.Off, values: PowerState },
      },
    },
  ],
  [SETTINGS_SERVICE]: [
    {
      path: BOOT_PATH,
      iface: IFACE.bootSource,
      properties: { BootSource: { initial: BootSource.Default, values: BootSource } },
    },
    {
      path: BOOT_PATH,
      iface: IFACE.bootMode,
      properties: { BootMode: { initial: BootMode.Regular, values: BootMode } },
    },
    { path: BOOT_PATH, iface: IFACE.bootType, properties: { BootType: { initial: BootType.EFI, values: BootType } } },
    { path: BOOT_PATH, iface: IFACE.enable, properties: { Enabled: { initial: false } } },
    { path: ONE_TIME_PATH, iface: IFACE.enable, properties: { Enabled: { initial: false } } },
  ],
};

/** A dbus-next interface whose properties are stored values; `onWrite` sees every accepted Set. */
function storedInterface(spec: ObjectSpec, onWrite: (property: string, value: Value) => void) {
  class Stored extends dbus.interface.Interface {
    readonly values = new Map<string, Value>();
  }
  for (const [property, p] of Object.entries(spec.properties)) {
    Object.defineProperty(Stored.prototype, property, {
      get(this: Stored) {
        return this.values.get(property);
      },
      set(this: Stored, value: Value) {
        if (p.values) enumName(p.values, String(value));
        onWrite(property, value);
        this.values.set(property, value);
      },
    });
  }
  Stored.configureMembers({
    properties: Object.fromEntries(
      Object.entries(spec.properties).map(([name, p]) => [
        name,
        { signature: typeof p.initial === 'boolean' ? 'b' : 's', access: 'readwrite' as const },
      ]),
    ),
  });
  const iface = new Stored(spec.iface);
  for (const [property, p] of Object.entries(spec.properties)) iface.values.set(property, p.initial);
  return iface;
}

export async function startPhosphorFixture(busAddress: string): Promise<PhosphorFixture> {
  const writes: PhosphorWrite[] = [];
  const stored = new Map<string, { values: Map<string, Value> }>();
  const buses: dbus.MessageBus[] = [];
  const stop = () => {
    for (const bus of buses) bus.disconnect();
  };
  try {
    for (const [service, objects] of Object.entries(SERVICES)) {
      const bus = await connectBus(busAddress);
      buses.push(bus);
      for (const spec of objects) {
        const iface = storedInterface(spec, (property, value) =>
          writes.push({ path: spec.path, iface: spec.iface, property, value }),
        );
        stored.set(`${spec.path} ${spec.iface}`, iface);
        bus.export(spec.path, iface);
      }
      const reply = await bus.requestName(service, dbus.NameFlag.DO_NOT_QUEUE);
      if (reply !== dbus.RequestNameReply.PRIMARY_OWNER) throw new Error(`${service} is owned by another process`);
    }
  } catch (err) {
    stop();
    throw err;
  }
  return {
    writes,
    clearWrites: () => void writes.splice(0),
    set(path, iface, property, value) {
      const target = stored.get(`${path} ${iface}`);
      if (!target?.values.has(property)) throw new Error(`the fixture has no ${iface}.${property} at ${path}`);
      target.values.set(property, value);
    },
    stop,
  };
}
