// A private dbus-daemon with our own bus config: what `npm start` and the tests run instead of
// the system bus of a BMC. Its socket lives in a directory the caller owns.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const CONFIG = fileURLToPath(new URL('../../config/dbus/private-bus.conf', import.meta.url));

export interface PrivateBus {
  /** D-Bus address, e.g. "unix:path=/run/x/bus.sock". */
  address: string;
  socketPath: string;
  stop(): Promise<void>;
}

export async function startPrivateBus(socketPath: string): Promise<PrivateBus> {
  rmSync(socketPath, { force: true });
  const address = `unix:path=${path.resolve(socketPath)}`;
  const child: ChildProcess = spawn(
    'dbus-daemon',
    [`--config-file=${CONFIG}`, `--address=${address}`, '--nofork', '--nopidfile', '--print-address=1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`cannot start dbus-daemon: ${err.message}`)));
    child.once('exit', (code) => reject(new Error(`dbus-daemon exited with ${code}: ${stderr.trim()}`)));
    child.stdout!.once('data', () => resolve());
  });
  child.removeAllListeners('exit');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    address,
    socketPath,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      if (existsSync(socketPath)) rmSync(socketPath, { force: true });
    },
  };
}
