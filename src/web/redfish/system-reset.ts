// ComputerSystem.Reset's ResetType → the phosphor-state-manager transition bmcweb's systems.hpp
// requests for it: RequestedHostTransition on host0, except ForceOff, which is the chassis's
// RequestedPowerTransition (power cut, no shutdown of the OS).
import type { HostWrite } from '../host/properties.js';
import { checkBody } from './body.js';
import { redfishError } from './messages.js';

const ACTION = 'ComputerSystem.Reset';
const HOST_TRANSITION = 'xyz.openbmc_project.State.Host.Transition.';
const CHASSIS_TRANSITION = 'xyz.openbmc_project.State.Chassis.Transition.';

const WRITE_OF_RESET_TYPE = {
  On: { property: 'requestedHostTransition', value: `${HOST_TRANSITION}On` },
  ForceOff: { property: 'requestedPowerTransition', value: `${CHASSIS_TRANSITION}Off` },
  GracefulShutdown: { property: 'requestedHostTransition', value: `${HOST_TRANSITION}Off` },
  ForceRestart: { property: 'requestedHostTransition', value: `${HOST_TRANSITION}ForceWarmReboot` },
  GracefulRestart: { property: 'requestedHostTransition', value: `${HOST_TRANSITION}GracefulWarmReboot` },
  PowerCycle: { property: 'requestedHostTransition', value: `${HOST_TRANSITION}Reboot` },
} as const satisfies Record<string, HostWrite>;

export type ResetType = keyof typeof WRITE_OF_RESET_TYPE;
export const RESET_TYPES = Object.keys(WRITE_OF_RESET_TYPE) as ResetType[];

function isResetType(value: string): value is ResetType {
  return (RESET_TYPES as string[]).includes(value);
}

/** The one write a Reset request makes; a missing, unknown or unsupported ResetType is a 400. */
export function resetWrite(body: unknown): { resetType: ResetType; write: HostWrite } {
  const { ResetType: resetType } = checkBody(body, { action: ACTION, fields: { ResetType: 'string' } });
  if (resetType === undefined) {
    throw redfishError(400, 'ActionParameterMissing', [ACTION, 'ResetType'], {
      related: ['#/ResetType'],
      resolution: `Give ResetType, one of: ${RESET_TYPES.join(', ')}.`,
    });
  }
  if (typeof resetType !== 'string' || !isResetType(resetType)) {
    throw redfishError(400, 'ActionParameterNotSupported', ['ResetType', ACTION], {
      related: ['#/ResetType'],
      resolution: `ResetType ${String(resetType)} is not supported here; use one of: ${RESET_TYPES.join(', ')}.`,
    });
  }
  return { resetType, write: WRITE_OF_RESET_TYPE[resetType] };
}
