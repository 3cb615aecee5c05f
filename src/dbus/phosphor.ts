// The OpenBMC D-Bus contract of the host's power and boot settings (phosphor-dbus-interfaces, as
// phosphor-state-manager and phosphor-settingsd serve it and bmcweb's systems.hpp reads it; the
// web reads and writes it, the virtual host serves it):
// bus names, object paths, interfaces and the enum strings, which travel as full names such as
// "xyz.openbmc_project.State.Host.HostState.Running".

export const HOST_SERVICE = 'xyz.openbmc_project.State.Host';
export const CHASSIS_SERVICE = 'xyz.openbmc_project.State.Chassis';
export const SETTINGS_SERVICE = 'xyz.openbmc_project.Settings';

export const HOST_PATH = '/xyz/openbmc_project/state/host0';
export const CHASSIS_PATH = '/xyz/openbmc_project/state/chassis0';
export const BOOT_PATH = '/xyz/openbmc_project/control/host0/boot';
export const ONE_TIME_PATH = '/xyz/openbmc_project/control/host0/boot/one_time';

export const IFACE = {
  host: 'xyz.openbmc_project.State.Host',
  chassis: 'xyz.openbmc_project.State.Chassis',
  bootSource: 'xyz.openbmc_project.Control.Boot.Source',
  bootMode: 'xyz.openbmc_project.Control.Boot.Mode',
  bootType: 'xyz.openbmc_project.Control.Boot.Type',
  enable: 'xyz.openbmc_project.Object.Enable',
} as const;

/** What sdbusplus answers when a written string is not one of the enum's values. */
export const INVALID_ENUM_ERROR = 'xyz.openbmc_project.sdbusplus.Error.InvalidEnumString';

/** The full D-Bus strings of one phosphor enum, keyed by the short value name. */
function enumStrings<const T extends string>(prefix: string, values: readonly T[]): Record<T, string> {
  return Object.fromEntries(values.map((v) => [v, `${prefix}.${v}`])) as Record<T, string>;
}

export const HostTransition = enumStrings('xyz.openbmc_project.State.Host.Transition', [
  'Off',
  'On',
  'Reboot',
  'GracefulWarmReboot',
  'ForceWarmReboot',
]);
export const HostState = enumStrings('xyz.openbmc_project.State.Host.HostState', [
  'Off',
  'TransitioningToOff',
  'Standby',
  'Running',
  'TransitioningToRunning',
  'Quiesced',
  'DiagnosticMode',
]);
export const RestartCause = enumStrings('xyz.openbmc_project.State.Host.RestartCause', [
  'Unknown',
  'RemoteCommand',
  'ResetButton',
  'PowerButton',
  'WatchdogTimer',
  'PowerPolicyAlwaysOn',
  'PowerPolicyPreviousState',
  'SoftReset',
  'ScheduledPowerOn',
  'HostCrash',
]);
export const ChassisTransition = enumStrings('xyz.openbmc_project.State.Chassis.Transition', [
  'Off',
  'On',
  'PowerCycle',
]);
export const PowerState = enumStrings('xyz.openbmc_project.State.Chassis.PowerState', [
  'Off',
  'TransitioningToOff',
  'On',
  'TransitioningToOn',
]);
export const PowerStatus = enumStrings('xyz.openbmc_project.State.Chassis.PowerStatus', [
  'Undefined',
  'BrownOut',
  'UninterruptiblePowerSupply',
  'Good',
]);
export const BootSource = enumStrings('xyz.openbmc_project.Control.Boot.Source.Sources', [
  'Disk',
  'ExternalMedia',
  'Network',
  'Default',
  'RemovableMedia',
  'HTTP',
  'IPv4',
  'IPv6',
  'USB',
]);
export const BootMode = enumStrings('xyz.openbmc_project.Control.Boot.Mode.Modes', ['Regular', 'Safe', 'Setup']);
export const BootType = enumStrings('xyz.openbmc_project.Control.Boot.Type.Types', ['Legacy', 'EFI']);
