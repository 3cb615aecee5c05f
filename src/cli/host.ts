// `vmedia host`: the virtual host for development and CI (docs/virtual-host.md). It serves the
// OpenBMC power and boot-override objects on D-Bus and drives a QEMU VM whose drives are the
// daemon's slot exports; stops (VM forced off) on SIGTERM/SIGINT or when the bus goes away.
import type { CommandModule } from 'yargs';
import { ConfigError, loadConfig } from '../config/load.js';
import type { ServiceConfig } from '../config/types.js';
import { busAddress, onBusLost } from '../dbus/connect.js';
import { createLogger } from '../log.js';
import { startVirtualHost, type RunningVirtualHost } from '../virtual-host/compose.js';

interface HostArgs {
  config: string;
  bus: string;
  'runtime-dir'?: string;
  memory: number;
  'graceful-off-timeout': number;
}

async function runHost(args: HostArgs): Promise<void> {
  const log = createLogger('vmedia-host');
  let config: ServiceConfig;
  try {
    config = loadConfig(args.config, { runtimeDir: args['runtime-dir'] });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`vmedia host: ${err.message}\n`);
    process.exitCode = 2;
    return;
  }
  let host: RunningVirtualHost;
  try {
    host = await startVirtualHost(
      {
        config,
        busAddress: busAddress(args.bus),
        memoryMiB: args.memory,
        gracefulOffSeconds: args['graceful-off-timeout'],
      },
      log,
    );
  } catch (err) {
    process.stderr.write(`vmedia host: cannot start: ${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  let stopping: Promise<void> | undefined;
  const stop = (why: string, exitCode: number) => {
    stopping ??= (async () => {
      log.info({ why }, 'stopping: forcing the VM off');
      process.exitCode = exitCode;
      await host.stop();
      log.info('stopped');
    })();
  };
  // `on`, not `once`: the runner's exit hook (signal-exit) kills the process at a signal that no
  // other listener still handles, which would cut the VM's teardown short
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));
  for (const bus of host.buses) {
    onBusLost(bus, (why) => {
      if (stopping) return; // our own teardown closed it
      log.error({ why }, 'lost the D-Bus connection');
      stop('bus connection lost', 1);
    });
  }
}

export const hostCommand: CommandModule<object, HostArgs> = {
  command: 'host',
  describe: 'a virtual host (QEMU) with the OpenBMC power and boot override objects on D-Bus',
  builder: (y) =>
    y
      .option('config', {
        type: 'string',
        default: '/etc/virtual-media.json',
        describe: "the daemon's config: its slots become the VM's drives",
      })
      .option('bus', { type: 'string', default: 'system', describe: 'system, session or a D-Bus address' })
      .option('runtime-dir', { type: 'string', describe: "replaces the config's RuntimeDir" })
      .option('memory', { type: 'number', default: 512, describe: 'the VM memory in MiB' })
      .option('graceful-off-timeout', {
        type: 'number',
        default: 60,
        describe: 'seconds the guest has to power off after the ACPI power button before it is forced off',
      })
      .check((a) => {
        if (!Number.isInteger(a.memory) || a.memory < 128)
          throw new Error('--memory: an integer of at least 128 (MiB)');
        if (!(a['graceful-off-timeout'] >= 0)) throw new Error('--graceful-off-timeout: seconds, 0 or more');
        return true;
      }),
  handler: (args) => runHost(args),
};
