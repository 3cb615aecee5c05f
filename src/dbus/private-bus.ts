// A private dbus-daemon with our own bus config: what `npm start` and the tests run instead of
// the system bus of a BMC. Its socket lives in a directory the caller owns.
import { existsSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { createLogger } from '../log.js';
import { createProcessRunner, describeExit, type ProcessRunner } from '../process/runner.js';

const CONFIG = fileURLToPath(new URL('../../config/dbus/private-bus.conf', import.meta.url));

export interface PrivateBus {
  /** D-Bus address, e.g. "unix:path=/run/x/bus.sock". */
  address: string;
  socketPath: string;
  stop(): Promise<void>;
}

export async function startPrivateBus(
  socketPath: string,
  runner: ProcessRunner = createProcessRunner(createLogger('dbus-daemon')),
): Promise<PrivateBus> {
  // a socket left by a bus that died is replaced; a live bus's (a second `vmedia start` on the
  // same runtime dir) is not: unlinked, it would cut the running one off from every new client
  if (await answers(socketPath)) {
    throw new Error(
      `a D-Bus daemon already listens on ${socketPath}: is vmedia already running with this runtime dir?`,
    );
  }
  rmSync(socketPath, { force: true });
  const address = `unix:path=${path.resolve(socketPath)}`;
  let stderr = '';
  let announced: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (announced = resolve));
  const child = await runner
    .start(
      'dbus-daemon',
      [`--config-file=${CONFIG}`, `--address=${address}`, '--nofork', '--nopidfile', '--print-address=1'],
      {
        // dbus-daemon prints its address once it listens
        onLine: (line, stream) => (stream === 'stdout' ? announced() : (stderr += `${line}\n`)),
      },
    )
    .catch((err: Error) => {
      throw new Error(`cannot start dbus-daemon: ${err.message}`);
    });
  const exitedEarly = child.exited.then((exit) => {
    throw new Error(`dbus-daemon ended (${describeExit(exit)}): ${stderr.trim()}`);
  });
  await Promise.race([ready, exitedEarly]);
  exitedEarly.catch(() => undefined); // after start-up, an exit is stop()'s business
  return {
    address,
    socketPath,
    async stop() {
      child.kill('SIGTERM');
      await child.exited;
      if (existsSync(socketPath)) rmSync(socketPath, { force: true });
    },
  };
}

/** Whether something accepts connections on the unix socket `socketPath`. */
function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(socketPath)
      .once('connect', () => {
        probe.destroy();
        resolve(true);
      })
      .once('error', () => resolve(false));
  });
}
