// The host's power and boot settings as an OpenBMC image serves them and bmcweb's systems.hpp
// reads and writes them (phosphor-dbus-interfaces): phosphor-state-manager's host0 and chassis0,
// phosphor-settingsd's boot override objects. Each property is reached by its own service, path
// and interface, with Properties.Get/Set; enum values travel as full strings such as
// "xyz.openbmc_project.State.Host.HostState.Running".

import {
  BOOT_PATH,
  CHASSIS_PATH,
  CHASSIS_SERVICE,
  HOST_PATH,
  HOST_SERVICE,
  IFACE,
  ONE_TIME_PATH,
  SETTINGS_SERVICE,
} from '../../dbus/phosphor.js';

export interface HostProperty {
  service: string;
  path: string;
  iface: string;
  name: string;
  signature: 's' | 'b';
}

const HOST = { service: HOST_SERVICE, path: HOST_PATH };
const CHASSIS = { service: CHASSIS_SERVICE, path: CHASSIS_PATH };
const BOOT = { service: SETTINGS_SERVICE, path: BOOT_PATH };
const ONE_TIME = { service: SETTINGS_SERVICE, path: ONE_TIME_PATH };

export const HOST_PROPERTIES = {
  currentHostState: { ...HOST, iface: IFACE.host, name: 'CurrentHostState', signature: 's' },
  requestedHostTransition: {
    ...HOST,
    iface: IFACE.host,
    name: 'RequestedHostTransition',
    signature: 's',
  },
  requestedPowerTransition: {
    ...CHASSIS,
    iface: IFACE.chassis,
    name: 'RequestedPowerTransition',
    signature: 's',
  },
  bootSource: { ...BOOT, iface: IFACE.bootSource, name: 'BootSource', signature: 's' },
  bootMode: { ...BOOT, iface: IFACE.bootMode, name: 'BootMode', signature: 's' },
  bootType: { ...BOOT, iface: IFACE.bootType, name: 'BootType', signature: 's' },
  /** An override is set (Redfish BootSourceOverrideEnabled other than Disabled). */
  overrideEnabled: { ...BOOT, iface: IFACE.enable, name: 'Enabled', signature: 'b' },
  /** The override is for the next boot only (Once rather than Continuous). */
  oneTimeEnabled: { ...ONE_TIME, iface: IFACE.enable, name: 'Enabled', signature: 'b' },
} as const satisfies Record<string, HostProperty>;

export type HostPropertyName = keyof typeof HOST_PROPERTIES;

/** One property write, as bmcweb makes it: Properties.Set(iface, name, value). */
export interface HostWrite {
  property: HostPropertyName;
  value: string | boolean;
}
