// `vmedia start` (what `npm start` runs): a private dbus-daemon in the runtime dir, then the
// service's processes as children; Ctrl-C / SIGTERM stops them all and leaves nothing behind.
import { existsSync, mkdirSync } from 'node:fs';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Argv, CommandModule } from 'yargs';
import { BUS_NAME, ROOT_PATH, slotPath } from '../dbus/names.js';
import { startPrivateBus } from '../dbus/private-bus.js';
import { waitForBusName } from '../dbus/wait-name.js';
import { createLogger } from '../log.js';
import { createProcessRunner, describeExit, type RunningProcess } from '../process/runner.js';
import { SUPERVISOR_STOP_GRACE_MS } from './stop-deadline.js';
import { hostPaths } from '../virtual-host/host-paths.js';
import { HOST_PATH, HOST_SERVICE, HostTransition, IFACE as HOST_IFACE } from '../dbus/phosphor.js';
import { QEMU_BINARY } from '../virtual-host/qemu-command.js';

const CHECKOUT = fileURLToPath(new URL('../../', import.meta.url));

interface Child {
  name: string;
  /** Arguments of the vmedia command this child runs. */
  args: string[];
  /** Variables of ours this child needs (the runner passes no others). */
  env: Record<string, string | undefined>;
  /** Resolves when the child is ready to be used. */
  ready(busAddress: string, exited: Promise<unknown>): Promise<void>;
}

const WEB_LISTEN = process.env.VMEDIA_LISTEN ?? '127.0.0.1:8443';

/** Resolves once the web frontend answers on the Redfish service root (no auth needed there). */
async function waitForWeb(listen: string, exited: Promise<unknown>): Promise<void> {
  let gaveUp = false;
  void exited.then(() => {
    gaveUp = true;
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const answered = await new Promise<boolean>((resolve) => {
      // the certificate is the self-signed one the frontend just made: this probe only asks "is it up"
      https
        .get(`https://${listen}/redfish/v1`, { rejectUnauthorized: false, timeout: 2_000 }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        })
        .on('error', () => resolve(false));
    });
    if (answered) return;
    if (gaveUp) throw new Error('the web frontend exited before it answered');
    if (Date.now() > deadline) throw new Error(`the web frontend did not answer on https://${listen} within 30 s`);
    await sleep(200);
  }
}

/** What every vmedia process reads from the environment (log format; the nbdkit binary, for tests). */
const COMMON_ENV = ['VMEDIA_LOG_LEVEL', 'VMEDIA_LOG_FORMAT', 'VMEDIA_NBDKIT', 'VMEDIA_DBUS_TIMEOUT_MS'];
const pick = (names: string[]) => Object.fromEntries(names.map((n) => [n, process.env[n]]));

/** The virtual host (a QEMU VM behind the OpenBMC power objects) runs when QEMU is installed. */
function qemuInstalled(): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(path.join(dir, QEMU_BINARY)));
}

function children(runtimeDir: string, busAddress: string, withHost: boolean): Child[] {
  // relative to the runtime dir as config/dev.json's TrustStore: CAs added over Redfish reach the daemon
  const trustStore = path.join(runtimeDir, 'truststore');
  mkdirSync(trustStore, { recursive: true, mode: 0o700 });
  // the daemon and the virtual host read the same slots, on the same bus and runtime dir
  const onDevConfig = (command: string) => [
    command,
    '--config',
    path.join(CHECKOUT, 'config/dev.json'),
    '--bus',
    busAddress,
    '--runtime-dir',
    runtimeDir,
  ];
  return [
    {
      name: 'daemon',
      args: onDevConfig('daemon'),
      env: pick(COMMON_ENV),
      ready: (address, exited) => waitForBusName(address, BUS_NAME, { timeoutMs: 20_000, giveUp: exited }),
    },
    ...(withHost
      ? [
          {
            name: 'host',
            args: onDevConfig('host'),
            env: pick(COMMON_ENV),
            ready: (address: string, exited: Promise<unknown>) =>
              waitForBusName(address, HOST_SERVICE, { timeoutMs: 20_000, giveUp: exited }),
          },
        ]
      : []),
    {
      name: 'web',
      args: [
        'web',
        '--bus',
        busAddress,
        '--listen',
        WEB_LISTEN,
        '--runtime-dir',
        runtimeDir,
        '--truststore',
        trustStore,
      ],
      // only the web needs the admin password
      env: pick([...COMMON_ENV, 'VMEDIA_PASSWORD']),
      ready: (_address, exited) => waitForWeb(WEB_LISTEN, exited),
    },
  ];
}

const runner = createProcessRunner(createLogger('vmedia-start'));

/** Runs `vmedia ARGS` the way this process was run (from dist/, or from source under tsx). */
function startVmedia(child: Child): Promise<RunningProcess> {
  return runner.start(process.execPath, [...process.execArgv, process.argv[1]!, ...child.args], {
    inheritOutput: true,
    env: child.env,
    // SIGKILL after the runner's usual 5 s would cut a daemon's eject short and leave nbdkit's files
    killGraceMs: SUPERVISOR_STOP_GRACE_MS,
  });
}

async function runStart(args: StartArgs): Promise<void> {
  const withHost = args.host && process.env.VMEDIA_NO_HOST !== '1' && qemuInstalled();
  const runtimeDir = path.resolve(process.env.VMEDIA_RUNTIME_DIR ?? path.join(CHECKOUT, 'run'));
  mkdirSync(runtimeDir, { recursive: true });
  const bus = await startPrivateBus(path.join(runtimeDir, 'bus.sock'));
  const running: { name: string; process: RunningProcess }[] = [];

  let stopping = false;
  const stopAll = async (exitCode: number) => {
    if (stopping) return;
    stopping = true;
    // reverse start order: the frontend goes before the daemon it talks to
    for (const child of [...running].reverse()) {
      child.process.kill('SIGTERM');
      await child.process.exited;
    }
    await bus.stop();
    process.exitCode = exitCode;
  };
  // `on`, not `once`: the runner's signal-exit would otherwise re-raise the signal (src/cli/daemon.ts)
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    for (const child of children(runtimeDir, bus.address, withHost)) {
      const proc = await startVmedia(child);
      const exited = proc.exited;
      running.push({ name: child.name, process: proc });
      void exited.then((exit) => {
        if (stopping) return;
        process.stderr.write(`vmedia start: ${child.name} exited (${describeExit(exit)}); stopping everything\n`);
        void stopAll(1);
      });
      await child.ready(bus.address, exited);
    }
  } catch (err) {
    process.stderr.write(`vmedia start: ${(err as Error).message}\n`);
    await stopAll(1);
    return;
  }
  const busctl = `busctl --address=${bus.address}`;
  const proxy0 = slotPath('Proxy', 'Slot_0');
  process.stdout.write(
    [
      '',
      `vmedia is running (runtime dir ${runtimeDir})`,
      `  Web:    https://${WEB_LISTEN}/  (Redfish: https://${WEB_LISTEN}/redfish/v1; user and password file above)`,
      `  D-Bus:  ${bus.address}  (${BUS_NAME})`,
      '  look around:',
      `    ${busctl} tree ${BUS_NAME}`,
      `    ${busctl} introspect ${BUS_NAME} ${slotPath('Legacy', 'Slot_2')}`,
      `    ${busctl} call ${BUS_NAME} ${ROOT_PATH} org.freedesktop.DBus.ObjectManager GetManagedObjects`,
      '  mount an image file on Proxy Slot_0 and read it back through the export backend:',
      `    nbdkit --unix ${path.join(runtimeDir, 'nbd0.sock')} --readonly file IMAGE.iso`,
      `    ${busctl} call ${BUS_NAME} ${proxy0} xyz.openbmc_project.VirtualMedia.Proxy Mount`,
      `    nbdinfo 'nbd+unix:///?socket=${path.join(runtimeDir, 'export/Slot_0.sock')}'`,
      `    ${busctl} call ${BUS_NAME} ${proxy0} xyz.openbmc_project.VirtualMedia.Proxy Unmount`,
      '  a Legacy URL on Slot_2 (credentials need a pipe fd: python3-dbus or Redfish):',
      // busctl 252 takes -1 for an option unless -- ends the options
      `    ${busctl} call -- ${BUS_NAME} ${slotPath('Legacy', 'Slot_2')} xyz.openbmc_project.VirtualMedia.Legacy Mount sbv https://HOST/IMAGE.iso false i -1`,
      ...(withHost
        ? [
            `  Host:   a QEMU VM (vmedia host) with the slots as drives; serial console: ${hostPaths(runtimeDir).consoleLog}`,
            `    ${busctl} set-property ${HOST_SERVICE} ${HOST_PATH} ${HOST_IFACE.host} RequestedHostTransition s ${HostTransition.On}`,
            `    tail -f ${hostPaths(runtimeDir).consoleLog}`,
          ]
        : ['  Host:   none (--no-host, VMEDIA_NO_HOST=1, or qemu-system-x86_64 is not installed)']),
      '  Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

interface StartArgs {
  host: boolean;
}

export const startCommand: CommandModule<object, StartArgs> = {
  command: 'start',
  describe:
    'run the whole service on this machine: private D-Bus bus, daemon (export backend), virtual host (QEMU), web frontend',
  builder: (y: Argv) =>
    y.option('host', {
      type: 'boolean',
      default: true,
      describe: 'run the virtual host when QEMU is installed (--no-host or VMEDIA_NO_HOST=1: do not)',
    }),
  handler: (args) => runStart(args),
};
