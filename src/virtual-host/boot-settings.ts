// The boot override settings, served as phosphor-settingsd serves them on
// xyz.openbmc_project.Settings: Source, Mode, Type and Object.Enable (override on) at
// control/host0/boot, Object.Enable (the override is for one boot only) at boot/one_time.
// Defaults as OpenBMC's: no override, not one-time, Default source, Regular mode, EFI. Like
// phosphor-settingsd, they are a plain store; the host reads them at every power-on and clears
// a one-time override once a boot has used it. They live in memory: a restart resets them.
import dbus from 'dbus-next';
import { enumName } from './enum-value.js';
import { BOOT_PATH, BootMode, BootSource, BootType, IFACE, ONE_TIME_PATH } from '../dbus/phosphor.js';

const { Interface } = dbus.interface;

export type BootSourceName = keyof typeof BootSource;
export type BootTypeName = keyof typeof BootType;

export interface BootSettingsSnapshot {
  source: BootSourceName;
  type: BootTypeName;
  /** Object.Enable at control/host0/boot: an override is set (Redfish: not "Disabled"). */
  overrideEnabled: boolean;
  /** Object.Enable at boot/one_time: the override is for the next boot only ("Once"). */
  oneTime: boolean;
}

/** An interface whose properties are stored values; a write that changes one signals it, as sdbusplus does. */
abstract class StoredInterface extends Interface {
  private readonly values = new Map<string, unknown>();

  protected stored<T>(name: string): T {
    return this.values.get(name) as T;
  }

  protected store(name: string, value: unknown): void {
    const before = this.values.get(name);
    this.values.set(name, value);
    if (before !== undefined && JSON.stringify(before) !== JSON.stringify(value)) {
      Interface.emitPropertiesChanged(this, { [name]: value }, []);
    }
  }
}

class SourceInterface extends StoredInterface {
  constructor() {
    super(IFACE.bootSource);
    this.BootSource = BootSource.Default;
    this.BootOrder = [];
  }
  get BootSource(): string {
    return this.stored('BootSource');
  }
  set BootSource(value: string) {
    enumName(BootSource, value);
    this.store('BootSource', value);
  }
  /** Stored only: the virtual host's order comes from BootSource (bmcweb does not use this). */
  get BootOrder(): string[] {
    return this.stored('BootOrder');
  }
  set BootOrder(value: string[]) {
    for (const v of value) enumName(BootSource, v);
    this.store('BootOrder', value);
  }
}
SourceInterface.configureMembers({
  properties: {
    BootSource: { signature: 's', access: 'readwrite' },
    BootOrder: { signature: 'as', access: 'readwrite' },
  },
});

/** Stored only: neither firmware can be told from outside to boot into setup or a safe mode. */
class ModeInterface extends StoredInterface {
  constructor() {
    super(IFACE.bootMode);
    this.BootMode = BootMode.Regular;
  }
  get BootMode(): string {
    return this.stored('BootMode');
  }
  set BootMode(value: string) {
    enumName(BootMode, value);
    this.store('BootMode', value);
  }
}
ModeInterface.configureMembers({ properties: { BootMode: { signature: 's', access: 'readwrite' } } });

class TypeInterface extends StoredInterface {
  constructor() {
    super(IFACE.bootType);
    this.BootType = BootType.EFI;
  }
  get BootType(): string {
    return this.stored('BootType');
  }
  set BootType(value: string) {
    enumName(BootType, value);
    this.store('BootType', value);
  }
}
TypeInterface.configureMembers({ properties: { BootType: { signature: 's', access: 'readwrite' } } });

class EnableInterface extends StoredInterface {
  constructor() {
    super(IFACE.enable);
    this.Enabled = false;
  }
  get Enabled(): boolean {
    return this.stored('Enabled');
  }
  set Enabled(value: boolean) {
    this.store('Enabled', value);
  }
}
EnableInterface.configureMembers({ properties: { Enabled: { signature: 'b', access: 'readwrite' } } });

export class BootSettings {
  private readonly source = new SourceInterface();
  private readonly mode = new ModeInterface();
  private readonly type = new TypeInterface();
  private readonly override = new EnableInterface();
  private readonly oneTime = new EnableInterface();

  /** The objects of xyz.openbmc_project.Settings, by path. */
  objects(): Map<string, dbus.interface.Interface[]> {
    return new Map([
      [BOOT_PATH, [this.source, this.mode, this.type, this.override]],
      [ONE_TIME_PATH, [this.oneTime]],
    ]);
  }

  snapshot(): BootSettingsSnapshot {
    return {
      source: enumName(BootSource, this.source.BootSource),
      type: enumName(BootType, this.type.BootType),
      overrideEnabled: this.override.Enabled,
      oneTime: this.oneTime.Enabled,
    };
  }

  /** After the boot that used a one-time override: Redfish shows BootSourceOverrideEnabled "Disabled" again. */
  consumeOnce(): void {
    this.override.Enabled = false;
    this.oneTime.Enabled = false;
  }
}
