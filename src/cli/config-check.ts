// `vmedia config check FILE`: validates a config with the daemon's own loader (src/config/load.ts),
// so it accepts exactly what `vmedia daemon` starts with: OK and a summary, or every problem with
// its key path and exit 2, as the daemon would stop.
import type { Argv, CommandModule } from 'yargs';
import { ConfigError, loadConfig } from '../config/load.js';
import type { ServiceConfig } from '../config/types.js';
import { CliError, EXIT, runOperatorCommand, usageFailure } from './operator-exit.js';

interface CheckArgs {
  file: string;
}

function summary(file: string, config: ServiceConfig): string {
  const slots = config.slots.map((s) => `${s.name} ${s.mode === 'proxy' ? 'Proxy' : 'Legacy'}`).join(', ');
  return `${file}: OK (host backend ${config.hostBackend}; ${config.slots.length} slots: ${slots})`;
}

function check(args: CheckArgs): Promise<void> {
  let config: ServiceConfig;
  try {
    config = loadConfig(args.file);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(EXIT.invalid, err.message);
    throw err;
  }
  process.stdout.write(`${summary(args.file, config)}\n`);
  return Promise.resolve();
}

const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check <file>',
  describe: "validate a config file (/etc/virtual-media.json) with the daemon's own rules",
  builder: (y: Argv) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'the config file' })
      .fail(usageFailure('config check')),
  handler: (args) => runOperatorCommand('config check', () => check(args)),
};

export const configCommand: CommandModule = {
  command: 'config',
  describe: 'config file tools',
  builder: (y) => y.command(checkCommand).demandCommand(1, 'name a subcommand: check').fail(usageFailure('config')),
  handler: () => {},
};
