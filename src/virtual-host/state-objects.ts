// host0 of xyz.openbmc_project.State.Host and chassis0 of xyz.openbmc_project.State.Chassis, as
// phosphor-state-manager serves them: writing a Requested* property starts that transition (and,
// as in sdbusplus, signals the property when its value changes); the Current* properties follow
// the virtual host and signal every change. Unlike sdbusplus, which leaves every property without
// a readonly flag writable, the Current* ones refuse writes: here they are the VM's state.
import dbus from 'dbus-next';
import { enumName } from './enum-value.js';
import type { VirtualHost } from './host-state.js';
import {
  ChassisTransition,
  CHASSIS_PATH,
  HOST_PATH,
  HostState,
  HostTransition,
  IFACE,
  PowerState,
  PowerStatus,
  RestartCause,
} from '../dbus/phosphor.js';

const { Interface } = dbus.interface;

class HostInterface extends Interface {
  private requested = HostTransition.Off;

  constructor(private readonly host: VirtualHost) {
    super(IFACE.host);
    host.onChange((changed) => {
      const props: Record<string, string> = {};
      if (changed.host) props.CurrentHostState = this.CurrentHostState;
      if (changed.restartCause) props.RestartCause = this.RestartCause;
      if (Object.keys(props).length > 0) Interface.emitPropertiesChanged(this, props, []);
    });
  }
  get RequestedHostTransition(): string {
    return this.requested;
  }
  set RequestedHostTransition(value: string) {
    const transition = enumName(HostTransition, value);
    if (value !== this.requested) {
      this.requested = value;
      Interface.emitPropertiesChanged(this, { RequestedHostTransition: value }, []);
    }
    this.host.requestHost(transition);
  }
  get CurrentHostState(): string {
    return HostState[this.host.current.host];
  }
  get RestartCause(): string {
    return RestartCause[this.host.current.restartCause];
  }
  /** bmcweb offers the ResetTypes these allow (ResetActionInfo). */
  get AllowedHostTransitions(): string[] {
    return Object.values(HostTransition);
  }
}
HostInterface.configureMembers({
  properties: {
    RequestedHostTransition: { signature: 's', access: 'readwrite' },
    CurrentHostState: { signature: 's', access: 'read' },
    RestartCause: { signature: 's', access: 'read' },
    AllowedHostTransitions: { signature: 'as', access: 'read' },
  },
});

class ChassisInterface extends Interface {
  private requested = ChassisTransition.Off;

  constructor(private readonly host: VirtualHost) {
    super(IFACE.chassis);
    host.onChange((changed) => {
      if (changed.power === undefined) return;
      Interface.emitPropertiesChanged(
        this,
        { CurrentPowerState: this.CurrentPowerState, LastStateChangeTime: this.LastStateChangeTime },
        [],
      );
    });
  }
  get RequestedPowerTransition(): string {
    return this.requested;
  }
  set RequestedPowerTransition(value: string) {
    const transition = enumName(ChassisTransition, value);
    if (value !== this.requested) {
      this.requested = value;
      Interface.emitPropertiesChanged(this, { RequestedPowerTransition: value }, []);
    }
    this.host.requestChassis(transition);
  }
  get CurrentPowerState(): string {
    return PowerState[this.host.current.power];
  }
  /** The power feeding the chassis: a VM's is always good. */
  get CurrentPowerStatus(): string {
    return PowerStatus.Good;
  }
  /** ms since the epoch; bmcweb shows it as the system's LastResetTime. */
  get LastStateChangeTime(): bigint {
    return BigInt(this.host.current.lastPowerChangeMs);
  }
}
ChassisInterface.configureMembers({
  properties: {
    RequestedPowerTransition: { signature: 's', access: 'readwrite' },
    CurrentPowerState: { signature: 's', access: 'read' },
    CurrentPowerStatus: { signature: 's', access: 'read' },
    LastStateChangeTime: { signature: 't', access: 'read' },
  },
});

export function hostObjects(host: VirtualHost): Map<string, dbus.interface.Interface[]> {
  return new Map([[HOST_PATH, [new HostInterface(host)]]]);
}

export function chassisObjects(host: VirtualHost): Map<string, dbus.interface.Interface[]> {
  return new Map([[CHASSIS_PATH, [new ChassisInterface(host)]]]);
}
