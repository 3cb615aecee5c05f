// `vmedia daemon`: loads the config, starts the service (src/daemon/compose.ts) and stops it on
// SIGTERM/SIGINT or when the bus goes away.
import type { CommandModule } from 'yargs';
import { ConfigError, loadConfig } from '../config/load.js';
import type { ServiceConfig } from '../config/types.js';
import { startService, type RunningService } from '../daemon/compose.js';
import { onBusLost } from '../dbus/connect.js';
import { createLogger } from '../log.js';
import { withoutTurbofan } from '../nbd-node/without-turbofan.js';
import { collectWhenIdle } from './idle-gc.js';
import type { PlainCommand, StringOptions } from './plain-argv.js';
import { STOP_DEADLINE_MS } from './stop-deadline.js';

interface DaemonArgs {
  config: string;
  bus: string;
  'runtime-dir'?: string;
}

async function runDaemon(args: DaemonArgs): Promise<void> {
  withoutTurbofan(); // its data path is the NBD client/server and the read-ahead
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
  // `on`, not `once`: signal-exit (the runner's, ending children when we exit) re-raises a signal
  // when its listener is the only one left, and a `once` listener is removed before it looks: the
  // daemon died of a SIGTERM that came while a child started after ours was running (a Legacy
  // mount's nbdkit), without ejecting. A second signal finds the stop already running.
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));
  onBusLost(service.bus, (why) => {
    if (stopping) return; // our own teardown closed it
    log.error({ why }, 'lost the D-Bus connection');
    stop('bus connection lost', 1, true);
  });
  log.info({ config: args.config, backend: config.hostBackend, runtimeDir: config.runtimeDir }, 'daemon ready');
  collectWhenIdle();
}

const daemonOptions = {
  config: { type: 'string', default: '/etc/virtual-media.json', describe: 'config file (docs/config.md)' },
  bus: { type: 'string', default: 'system', describe: 'system, session or a D-Bus address' },
  'runtime-dir': { type: 'string', describe: "replaces the config's RuntimeDir" },
} as const satisfies StringOptions;

/** What the unit runs (src/cli/plain-argv.ts: without yargs). */
export const daemonPlain: PlainCommand<DaemonArgs> = { options: daemonOptions, run: runDaemon };

export const daemonCommand: CommandModule<object, DaemonArgs> = {
  command: 'daemon',
  describe: 'serve xyz.openbmc_project.VirtualMedia on D-Bus',
  builder: (y) => y.options(daemonOptions),
  handler: (args) => runDaemon(args),
};
