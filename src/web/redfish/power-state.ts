// ComputerSystem.PowerState and Status.State from phosphor-state-manager's CurrentHostState, as
// bmcweb's getHostState maps them. No host service (or no answer): neither is shown, as bmcweb.
const HOST_STATE = 'xyz.openbmc_project.State.Host.HostState.';

const POWER_OF_HOST_STATE: Record<string, { PowerState: string; State: string }> = {
  [`${HOST_STATE}Running`]: { PowerState: 'On', State: 'Enabled' },
  [`${HOST_STATE}Quiesced`]: { PowerState: 'On', State: 'Quiesced' },
  [`${HOST_STATE}DiagnosticMode`]: { PowerState: 'On', State: 'InTest' },
  [`${HOST_STATE}TransitioningToRunning`]: { PowerState: 'PoweringOn', State: 'Starting' },
  [`${HOST_STATE}TransitioningToOff`]: { PowerState: 'PoweringOff', State: 'Disabled' },
  [`${HOST_STATE}Standby`]: { PowerState: 'Paused', State: 'StandbyOffline' },
};
/** Off, and every state bmcweb does not name. */
const OFF = { PowerState: 'Off', State: 'Disabled' };

export function powerStateJson(hostState: unknown): object {
  if (typeof hostState !== 'string') return {};
  const { PowerState, State } = POWER_OF_HOST_STATE[hostState] ?? OFF;
  return { PowerState, Status: { State, Health: 'OK' } };
}
