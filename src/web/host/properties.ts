// The host's power and boot settings as an OpenBMC image serves them and bmcweb's systems.hpp
// reads and writes them (phosphor-dbus-interfaces): phosphor-state-manager's host0 and chassis0,
// phosphor-settingsd's boot override objects. Each property is reached by its own service, path
// and interface, with Properties.Get/Set; enum values travel as full strings such as
// "xyz.openbmc_project.State.Host.HostState.Running".

export interface HostProperty {
  service: string;
  path: string;
  iface: string;
  name: string;
  signature: 's' | 'b';
}

const HOST = { service: 'xyz.openbmc_project.State.Host', path: '/xyz/openbmc_project/state/host0' };
const CHASSIS = { service: 'xyz.openbmc_project.State.Chassis', path: '/xyz/openbmc_project/state/chassis0' };
const BOOT = { service: 'xyz.openbmc_project.Settings', path: '/xyz/openbmc_project/control/host0/boot' };
const ONE_TIME = { service: 'xyz.openbmc_project.Settings', path: '/xyz/openbmc_project/control/host0/boot/one_time' };

export const HOST_PROPERTIES = {
  currentHostState: { ...HOST, iface: 'xyz.openbmc_project.State.Host', name: 'CurrentHostState', signature: 's' },
  requestedHostTransition: {
    ...HOST,
    iface: 'xyz.openbmc_project.State.Host',
    name: 'RequestedHostTransition',
    signature: 's',
  },
  requestedPowerTransition: {
    ...CHASSIS,
    iface: 'xyz.openbmc_project.State.Chassis',
    name: 'RequestedPowerTransition',
    signature: 's',
  },
  bootSource: { ...BOOT, iface: 'xyz.openbmc_project.Control.Boot.Source', name: 'BootSource', signature: 's' },
  bootMode: { ...BOOT, iface: 'xyz.openbmc_project.Control.Boot.Mode', name: 'BootMode', signature: 's' },
  bootType: { ...BOOT, iface: 'xyz.openbmc_project.Control.Boot.Type', name: 'BootType', signature: 's' },
  /** An override is set (Redfish BootSourceOverrideEnabled other than Disabled). */
  overrideEnabled: { ...BOOT, iface: 'xyz.openbmc_project.Object.Enable', name: 'Enabled', signature: 'b' },
  /** The override is for the next boot only (Once rather than Continuous). */
  oneTimeEnabled: { ...ONE_TIME, iface: 'xyz.openbmc_project.Object.Enable', name: 'Enabled', signature: 'b' },
} as const satisfies Record<string, HostProperty>;

export type HostPropertyName = keyof typeof HOST_PROPERTIES;

/** One property write, as bmcweb makes it: Properties.Set(iface, name, value). */
export interface HostWrite {
  property: HostPropertyName;
  value: string | boolean;
}
