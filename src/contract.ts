// Values the daemon, its sources and the web frontend must agree on, in one place.

/** Most bytes of an image user name or password: what HTTP basic auth, nbdkit and the
 *  credentials pipe carry (docs/dbus.md). */
export const MAX_CREDENTIAL_PART_BYTES = 512;

/** Schemes whose transfer is encrypted: image credentials go only with these (a user name and
 *  password over http or ftp could be read on the wire). Redfish InsertMedia and `vmedia mount`. */
export const ENCRYPTED_SCHEMES: readonly string[] = ['https', 'sftp', 'smb'];

/** The daemon reports Completion(EBUSY) when a Mount or Unmount still runs Timeout + 5 s after
 *  it began, as OpenBMC does. */
export function completionTimerMs(timeoutSeconds: number): number {
  return (timeoutSeconds + 5) * 1000;
}

/** How long a client of the daemon waits for Completion: a little past the daemon's own timer,
 *  so the daemon's answer (EBUSY) arrives before the client gives up. */
export function completionWaitMs(timeoutSeconds: number): number {
  return completionTimerMs(timeoutSeconds) + 5000;
}
