// The virtual host under test: a private bus, `vmedia host` from source with a config of its own
// in a temp runtime dir, a D-Bus client for the OpenBMC objects, a bootable ISO and NBD servers
// on the slots' export sockets (nbdkit, as anything serving NBD there is a medium).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import dbus from 'dbus-next';
import { connectBus } from '../../src/dbus/connect.js';
import { waitForBusName } from '../../src/dbus/wait-name.js';
import { startTestBus, type TestBus } from '../helpers/private-bus.js';
import { waitFor } from '../helpers/wait.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
export const MARKER = 'VMEDIA-BOOT-MARKER';

export const HOST = {
  service: 'xyz.openbmc_project.State.Host',
  path: '/xyz/openbmc_project/state/host0',
  iface: 'xyz.openbmc_project.State.Host',
};
export const CHASSIS = {
  service: 'xyz.openbmc_project.State.Chassis',
  path: '/xyz/openbmc_project/state/chassis0',
  iface: 'xyz.openbmc_project.State.Chassis',
};
export const SETTINGS = 'xyz.openbmc_project.Settings';
export const BOOT_PATH = '/xyz/openbmc_project/control/host0/boot';
export const ONE_TIME_PATH = '/xyz/openbmc_project/control/host0/boot/one_time';

/** Two USB-stick slots and two CD slots, as config/dev.json has them. */
const CONFIG = {
  HostBackend: 'export',
  MountPoints: {
    Slot_0: { EndpointId: '/nbd/0', Mode: 0, NBDDevice: 'nbd0', UnixSocket: 'nbd0.sock', Timeout: 30 },
    Slot_1: { EndpointId: '/nbd/1', Mode: 0, NBDDevice: 'nbd1', UnixSocket: 'nbd1.sock', Timeout: 30 },
    Slot_2: { Mode: 1, NBDDevice: 'nbd2', UnixSocket: 'nbd2.sock', Timeout: 90, MediaType: 'CD' },
    Slot_3: { Mode: 1, NBDDevice: 'nbd3', UnixSocket: 'nbd3.sock', Timeout: 90, MediaType: 'CD' },
  },
};

export interface HostStack {
  bus: TestBus;
  runtimeDir: string;
  /** The config `vmedia host` runs with (a daemon started with it shares the slots). */
  config: object;
  consoleLog: string;
  client: dbus.MessageBus;
  /** `vmedia host`'s output so far. */
  output(): string;
  get(service: string, objectPath: string, iface: string, name: string): Promise<unknown>;
  set(service: string, objectPath: string, iface: string, name: string, value: dbus.Variant): Promise<void>;
  /** Waits until host0's CurrentHostState is `state` (the short name, e.g. "Running"). */
  hostState(state: string, timeoutMs: number): Promise<void>;
  /** One command on QEMU's spare QMP socket; rejects when nothing answers there. */
  qmp(command: string): Promise<unknown>;
  /** Serves `file` read-only on `socket` (default: the slot's export socket, which means the slot holds a medium). */
  serve(slot: string, file: string, socket?: string): Promise<void>;
  /** Takes the slot's medium away: its export socket goes (as the daemon's eject does it). */
  eject(slot: string): void;
  stop(): Promise<void>;
}

export async function startHostStack(extraArgs: string[] = []): Promise<HostStack> {
  const bus = await startTestBus();
  const runtimeDir = mkdtempSync(path.join(tmpdir(), 'vmedia-vhost-'));
  const configPath = path.join(runtimeDir, 'virtual-media.json');
  const config = { ...CONFIG, RuntimeDir: runtimeDir };
  writeFileSync(configPath, JSON.stringify(config));
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', MAIN, 'host', '--config', configPath, '--bus', bus.address, ...extraArgs],
    { env: { ...process.env, VMEDIA_LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const servers = new Map<string, ChildProcess>();
  const stop = async () => {
    client?.disconnect();
    for (const server of servers.values()) server.kill('SIGKILL');
    child.kill('SIGTERM');
    await exited;
    await bus.stop();
    rmSync(runtimeDir, { recursive: true, force: true });
  };

  let client: dbus.MessageBus | undefined;
  try {
    await waitForBusName(bus.address, HOST.service, { timeoutMs: 30_000, giveUp: exited });
    client = await connectBus(bus.address);
  } catch (err) {
    await stop();
    throw new Error(`vmedia host did not start: ${(err as Error).message}\n${output}`);
  }
  const connected = client;
  const call = (service: string, objectPath: string, member: string, signature: string, body: unknown[]) =>
    connected.call(
      new dbus.Message({
        destination: service,
        path: objectPath,
        interface: 'org.freedesktop.DBus.Properties',
        member,
        signature,
        body,
      }),
    );
  const exportSocket = (slot: string) => path.join(runtimeDir, 'export', `${slot}.sock`);
  const stack: HostStack = {
    bus,
    runtimeDir,
    config,
    consoleLog: path.join(runtimeDir, 'host-console.log'),
    client: connected,
    output: () => output,
    async get(service, objectPath, iface, name) {
      const reply = await call(service, objectPath, 'Get', 'ss', [iface, name]);
      return (reply?.body[0] as dbus.Variant).value;
    },
    async set(service, objectPath, iface, name, value) {
      await call(service, objectPath, 'Set', 'ssv', [iface, name, value]);
    },
    async hostState(state, timeoutMs) {
      const wanted = `xyz.openbmc_project.State.Host.HostState.${state}`;
      await waitFor(
        () => `CurrentHostState ${state}; vmedia host said:\n${output}`,
        async () => (await stack.get(HOST.service, HOST.path, HOST.iface, 'CurrentHostState')) === wanted,
        { timeoutMs, intervalMs: 100 },
      );
    },
    qmp: (command) => qmpOnce(path.join(runtimeDir, 'host', 'monitor.sock'), command),
    async serve(slot, file, socket = exportSocket(slot)) {
      mkdirSync(path.dirname(socket), { recursive: true });
      const server = spawn('nbdkit', ['-f', '--unix', socket, '--readonly', 'file', file], { stdio: 'ignore' });
      servers.set(slot, server);
      await waitFor(`nbdkit on ${socket}`, () => existsSync(socket));
    },
    eject(slot) {
      rmSync(exportSocket(slot), { force: true });
      servers.get(slot)?.kill('SIGKILL');
      servers.delete(slot);
    },
    stop,
  };
  return stack;
}

/** Connects to a QMP socket, leaves negotiation mode, runs one command and returns its result. */
export function qmpOnce(socket: string, command: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(socket);
    let buffered = '';
    conn.on('error', reject);
    conn.on('data', (d: Buffer) => {
      buffered += d.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const msg = JSON.parse(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        if (msg.QMP) conn.write('{"execute":"qmp_capabilities","id":1}\n');
        else if (msg.id === 1) conn.write(JSON.stringify({ execute: command, id: 2 }) + '\n');
        else if (msg.id === 2) {
          conn.end();
          if (msg.error) reject(new Error(`${command}: ${msg.error.desc}`));
          else resolve(msg.return);
        }
      }
    });
  });
}

/**
 * A bootable ISO (BIOS and EFI, CD and USB stick) whose GRUB prints MARKER on the serial console
 * and powers off. `commands` run before the marker (e.g. reading another medium), with the extra
 * GRUB modules they need.
 */
export function makeBootIso(dir: string, opts: { commands?: string[]; modules?: string[] } = {}): string {
  const tree = path.join(dir, 'iso-tree');
  mkdirSync(path.join(tree, 'boot/grub'), { recursive: true });
  writeFileSync(
    path.join(tree, 'boot/grub/grub.cfg'),
    [
      'serial',
      'terminal_input serial',
      'terminal_output serial',
      ...(opts.commands ?? []),
      `echo ${MARKER}`,
      'halt',
      '',
    ].join('\n'),
  );
  const iso = path.join(dir, 'boot.iso');
  const modules = ['normal', 'serial', 'terminal', 'echo', 'halt', ...(opts.modules ?? [])].join(' ');
  execFileSync(
    'grub-mkrescue',
    ['-o', iso, `--install-modules=${modules}`, '--locales=', '--fonts=', '--themes=', tree],
    {
      stdio: 'pipe',
    },
  );
  return iso;
}

/** How often the ISO's marker is on the VM's console so far: once more with every boot of the ISO. */
export function markerCount(consoleLog: string): number {
  return existsSync(consoleLog) ? readFileSync(consoleLog, 'latin1').split(MARKER).length - 1 : 0;
}
