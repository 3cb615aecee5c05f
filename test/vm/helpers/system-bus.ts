// A real system bus inside the VM, the way a BMC runs it: the distribution's own system.conf with
// our policy installed in /usr/share/dbus-1/system.d/, listening on /run/dbus/system_bus_socket;
// served by dbus-daemon or by dbus-broker (OpenBMC's bus). Plus what the units rely on: the
// users of vmedia.sysusers.conf (systemd-sysusers) and the dirs of vmedia.tmpfiles.conf
// (systemd-tmpfiles). The VM's root is a RAM overlay: these writes are gone at power-off.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { waitFor } from '../../helpers/wait.js';

const run = promisify(execFile);
const SYSTEMD_DIR = fileURLToPath(new URL('../../../systemd/', import.meta.url));
export const SYSTEM_BUS_SOCKET = '/run/dbus/system_bus_socket';
/** dbus-broker-launch logs to the journal only; no journald runs in the VM, so a socat takes its lines. */
const JOURNAL_SOCKET = '/run/systemd/journal/socket';

export type BusKind = 'dbus-daemon' | 'dbus-broker';

/** Installs the policy, creates the users (sysusers) and the dirs (tmpfiles), as the image would. */
export async function installAsOnTheBmc(): Promise<void> {
  copyFileSync(
    path.join(SYSTEMD_DIR, 'xyz.openbmc_project.VirtualMedia.conf'),
    '/usr/share/dbus-1/system.d/xyz.openbmc_project.VirtualMedia.conf',
  );
  await run('systemd-sysusers', [path.join(SYSTEMD_DIR, 'vmedia.sysusers.conf')]);
  await run('systemd-tmpfiles', ['--create', path.join(SYSTEMD_DIR, 'vmedia.tmpfiles.conf')]);
}

export interface SystemBus {
  kind: BusKind;
  /** The bus's own output (dbus-broker's journal lines included). */
  output(): string;
  stop(): Promise<void>;
}

export async function startSystemBus(kind: BusKind): Promise<SystemBus> {
  mkdirSync(path.dirname(SYSTEM_BUS_SOCKET), { recursive: true });
  rmSync(SYSTEM_BUS_SOCKET, { force: true });
  const children: ChildProcess[] = [];
  let output = '';
  const start = (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    children.push(child);
    return child;
  };
  if (kind === 'dbus-daemon') {
    // the packaged system bus: /usr/share/dbus-1/system.conf (drops to messagebus, includes system.d)
    start('dbus-daemon', ['--system', '--nofork', '--nopidfile']);
  } else {
    // dbus-broker-launch needs no systemd as PID 1, but it wants what systemd gives it: the
    // listening socket (LISTEN_FDS, here from systemd-socket-activate), the journal socket,
    // and the bus's own address to connect back to (it watches the bus as a client too)
    mkdirSync(path.dirname(JOURNAL_SOCKET), { recursive: true });
    rmSync(JOURNAL_SOCKET, { force: true });
    const journal = start('socat', ['-u', `UNIX-RECV:${JOURNAL_SOCKET}`, 'STDOUT']);
    await waitFor('the journal socket', () => existsSync(JOURNAL_SOCKET) || journal.exitCode !== null, {
      timeoutMs: 30_000,
      intervalMs: 50,
    });
    start(
      'systemd-socket-activate',
      ['-E', 'DBUS_SYSTEM_BUS_ADDRESS', '-l', SYSTEM_BUS_SOCKET, 'dbus-broker-launch', '--scope', 'system'],
      {
        ...process.env,
        DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${SYSTEM_BUS_SOCKET}`,
      },
    );
  }
  const stop = async () => {
    for (const child of children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once('close', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(SYSTEM_BUS_SOCKET, { force: true });
  };
  try {
    await waitFor(`${kind} to listen on ${SYSTEM_BUS_SOCKET}`, () => existsSync(SYSTEM_BUS_SOCKET), {
      timeoutMs: 60_000,
      intervalMs: 50,
    });
    // systemd makes dbus.socket 0666; systemd-socket-activate takes the umask
    if (kind === 'dbus-broker') chmodSync(SYSTEM_BUS_SOCKET, 0o666);
    // the first call also starts the broker (socket activation): the bus answers
    await run('busctl', [
      '--system',
      'call',
      'org.freedesktop.DBus',
      '/org/freedesktop/DBus',
      'org.freedesktop.DBus',
      'GetId',
    ]);
  } catch (err) {
    await stop();
    throw new Error(`${kind} did not start: ${(err as Error).message}\n${output}`);
  }
  return { kind, output: () => output, stop };
}

/** The argv prefix that runs a command as `user` with no capabilities at all, as a unit's User= does. */
export function asUser(user: string): string[] {
  return [
    'setpriv',
    `--reuid=${user}`,
    `--regid=${user}`,
    '--init-groups',
    '--inh-caps=-all',
    '--ambient-caps=-all',
    '--bounding-set=-all',
    '--no-new-privs',
    '--',
  ];
}

/**
 * A method call on the system bus as `user` with dbus-send, which prints the D-Bus error name:
 * resolves with "ok" or the error name (e.g. org.freedesktop.DBus.Error.AccessDenied).
 */
export async function callAs(
  user: string,
  dest: string,
  objectPath: string,
  method: string,
  ...args: string[]
): Promise<string> {
  const [cmd, ...prefix] = asUser(user);
  try {
    await run(cmd!, [
      ...prefix,
      'dbus-send',
      '--system',
      '--print-reply',
      `--dest=${dest}`,
      objectPath,
      method,
      ...args,
    ]);
    return 'ok';
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    const name = /^Error (\S+):/m.exec(stderr)?.[1];
    if (!name) throw new Error(`dbus-send as ${user} failed without a D-Bus error: ${stderr}`);
    return name;
  }
}
