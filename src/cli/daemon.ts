// `vmedia daemon`: the composition root of the D-Bus service — the one place the concrete host
// backend and Legacy source provider are chosen; the mount points know only their interfaces.
import { mkdirSync } from 'node:fs';
import type dbus from 'dbus-next';
import type { CommandModule } from 'yargs';
import { ConfigError, loadConfig } from '../config/load.js';
import type { ServiceConfig } from '../config/types.js';
import { connectBus, onBusLost } from '../dbus/connect.js';
import { publishVirtualMedia } from '../dbus/service.js';
import type { HostBackend } from '../host/types.js';
import { createLogger, type Logger } from '../log.js';
import { MountPoint } from '../mountpoint/mount-point.js';
import { createSourceProvider } from '../sources/index.js';
import type { SourceProvider } from '../sources/types.js';

const STOP_DEADLINE_MS = 60_000;

interface DaemonArgs {
  config: string;
  bus: string;
  'runtime-dir'?: string;
}

/** Only the chosen backend's modules are loaded: start-up time is mostly module loading. */
async function createHostBackend(config: ServiceConfig, log: Logger): Promise<HostBackend> {
  if (config.hostBackend === 'kernel') {
    const { createKernelHostBackend } = await import('../host/kernel/index.js');
    return createKernelHostBackend(config, log);
  }
  const { createExportHostBackend } = await import('../host/export/index.js');
  return createExportHostBackend(config, log);
}

interface RunningService {
  bus: dbus.MessageBus;
  /** Ejects all media, leaves the bus (unless it is gone), stops the parts. */
  stop(opts: { busLost: boolean }): Promise<void>;
}

/** Builds the service from the concrete parts; on a failure undoes what it started and throws. */
async function startService(config: ServiceConfig, busChoice: string, log: Logger): Promise<RunningService> {
  mkdirSync(config.runtimeDir, { recursive: true, mode: 0o755 });
  // independent start-up work (probing nbdkit, the bus handshake) overlaps
  const parts = await Promise.allSettled([
    createHostBackend(config, log),
    createSourceProvider(config, log),
    connectBus(busChoice, { fdPassing: true }),
  ] as const);
  const [host, sources, bus] = parts.map((p) => (p.status === 'fulfilled' ? p.value : undefined)) as [
    HostBackend | undefined,
    SourceProvider | undefined,
    dbus.MessageBus | undefined,
  ];
  const undo = async () => {
    bus?.disconnect();
    await host?.close();
    await sources?.close();
  };
  try {
    const failed = parts.find((p) => p.status === 'rejected');
    if (failed) throw failed.reason;
    await host!.cleanupStale(config.slots);
    const mountPoints = config.slots.map(
      (slot) =>
        new MountPoint({
          slot,
          host: host!,
          sources: sources!,
          log: log.child({ slot: slot.name }),
          inactivityTimeout: config.inactivityTimeout,
        }),
    );
    const published = await publishVirtualMedia(bus!, mountPoints, sources!, log);
    return {
      bus: bus!,
      async stop({ busLost }) {
        await Promise.all(mountPoints.map((mp) => mp.shutdown()));
        if (!busLost)
          await published.unpublish().catch((err: Error) => log.warn({ err: err.message }, 'leaving the bus failed'));
        await undo();
      },
    };
  } catch (err) {
    await undo();
    throw err;
  }
}

async function runDaemon(args: DaemonArgs): Promise<void> {
  const log = createLogger('vmedia-daemon');
  let config: ServiceConfig;
  try {
    config = loadConfig(args.config, { runtimeDir: args['runtime-dir'] });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`vmedia daemon: ${err.message}\n`);
    process.exitCode = 2;
    return;
  }
  let service: RunningService;
  try {
    service = await startService(config, args.bus, log);
  } catch (err) {
    process.stderr.write(`vmedia daemon: cannot start: ${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  let stopping: Promise<void> | undefined;
  const stop = (why: string, exitCode: number, busLost = false) => {
    stopping ??= (async () => {
      log.info({ why }, 'stopping: ejecting all media');
      // set first: with the bus gone, the process may run out of work before the teardown ends
      process.exitCode = exitCode;
      // a teardown that hangs (a host that never lets go) must not keep the process forever
      setTimeout(() => {
        log.error(`teardown still running after ${STOP_DEADLINE_MS / 1000} s: exiting anyway`);
        process.exit(1);
      }, STOP_DEADLINE_MS).unref();
      await service.stop({ busLost });
      log.info('stopped');
    })();
  };
  process.once('SIGTERM', () => stop('SIGTERM', 0));
  process.once('SIGINT', () => stop('SIGINT', 0));
  onBusLost(service.bus, (why) => {
    if (stopping) return; // our own teardown closed it
    log.error({ why }, 'lost the D-Bus connection');
    stop('bus connection lost', 1, true);
  });
  log.info({ config: args.config, backend: config.hostBackend, runtimeDir: config.runtimeDir }, 'daemon ready');
}

export const daemonCommand: CommandModule<object, DaemonArgs> = {
  command: 'daemon',
  describe: 'serve xyz.openbmc_project.VirtualMedia on D-Bus',
  builder: (y) =>
    y
      .option('config', {
        type: 'string',
        default: '/etc/virtual-media.json',
        describe: 'config file (ARCHITECTURE §5)',
      })
      .option('bus', { type: 'string', default: 'system', describe: 'system, session or a D-Bus address' })
      .option('runtime-dir', { type: 'string', describe: "replaces the config's RuntimeDir" }),
  handler: (args) => runDaemon(args),
};
