// `vmedia daemon`: the composition root of the D-Bus service — the one place the concrete host
// backend and Legacy source provider are chosen; the mount points know only their interfaces.
import { mkdirSync } from 'node:fs';
import type dbus from 'dbus-next';
import type { CommandModule } from 'yargs';
import { ConfigError, loadConfig } from '../config/load.js';
import type { ServiceConfig } from '../config/types.js';
import { connectBus } from '../dbus/connect.js';
import { publishVirtualMedia, type PublishedService } from '../dbus/service.js';
import { createExportHostBackend } from '../host/export/index.js';
import { createKernelHostBackend } from '../host/kernel/index.js';
import type { HostBackend } from '../host/types.js';
import { createLogger, type Logger } from '../log.js';
import { MountPoint } from '../mountpoint/mount-point.js';
import { createSourceProvider } from '../sources/index.js';

interface DaemonArgs {
  config: string;
  bus: string;
  'runtime-dir'?: string;
}

function createHostBackend(config: ServiceConfig, log: Logger): Promise<HostBackend> {
  return config.hostBackend === 'kernel' ? createKernelHostBackend(config, log) : createExportHostBackend(config, log);
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
  mkdirSync(config.runtimeDir, { recursive: true, mode: 0o755 });

  const host = await createHostBackend(config, log);
  const sources = await createSourceProvider(config, log);
  let bus: dbus.MessageBus | undefined;
  let published: PublishedService;
  const mountPoints = config.slots.map((slot) => new MountPoint({
    slot, host, sources, log: log.child({ slot: slot.name }), inactivityTimeout: config.inactivityTimeout,
  }));
  try {
    await host.cleanupStale(config.slots);
    bus = await connectBus(args.bus, { fdPassing: true });
    published = await publishVirtualMedia(bus, mountPoints, sources, log);
  } catch (err) {
    process.stderr.write(`vmedia daemon: cannot start: ${(err as Error).message}\n`);
    bus?.disconnect();
    await host.close();
    await sources.close();
    process.exitCode = 1;
    return;
  }
  const connected = bus;

  let stopping: Promise<void> | undefined;
  const stop = (why: string, exitCode: number) => {
    stopping ??= (async () => {
      log.info({ why }, 'stopping: ejecting all media');
      await Promise.all(mountPoints.map((mp) => mp.shutdown()));
      await published.unpublish().catch((err: Error) => log.warn({ err: err.message }, 'leaving the bus failed'));
      await host.close();
      await sources.close();
      connected.disconnect();
      process.exitCode = exitCode;
      log.info('stopped');
    })();
    return stopping;
  };
  process.once('SIGTERM', () => void stop('SIGTERM', 0));
  process.once('SIGINT', () => void stop('SIGINT', 0));
  connected.on('error', (err: Error) => {
    log.error({ err: err.message }, 'lost the D-Bus connection');
    void stop('bus connection lost', 1);
  });
  log.info({ config: args.config, backend: host.name, runtimeDir: config.runtimeDir }, 'daemon ready');
}

export const daemonCommand: CommandModule<object, DaemonArgs> = {
  command: 'daemon',
  describe: 'serve xyz.openbmc_project.VirtualMedia on D-Bus',
  builder: (y) => y
    .option('config', { type: 'string', default: '/etc/virtual-media.json', describe: 'config file (ARCHITECTURE §5)' })
    .option('bus', { type: 'string', default: 'system', describe: 'system, session or a D-Bus address' })
    .option('runtime-dir', { type: 'string', describe: "replaces the config's RuntimeDir" }),
  handler: (args) => runDaemon(args),
};
