// How long the daemon's SIGTERM teardown may take, shared by the daemon and whoever stops it.

/** How long the SIGTERM teardown may take before the daemon exits anyway. Below the unit's
 *  TimeoutStopSec (60 s, systemd/xyz.openbmc_project.VirtualMedia.service): the daemon logs what
 *  hung and exits by itself instead of being SIGKILLed mid-eject (test/packaging/units.test.ts). */
export const STOP_DEADLINE_MS = 50_000;

/** What a supervisor (systemd's TimeoutStopSec, `vmedia start`) waits after SIGTERM before SIGKILL:
 *  past the daemon's own deadline, so a slow eject is never cut short and leaves no files behind. */
export const SUPERVISOR_STOP_GRACE_MS = STOP_DEADLINE_MS + 10_000;
