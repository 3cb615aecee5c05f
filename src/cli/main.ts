#!/usr/bin/env node
// The `vmedia` command: wires the parts together. Nothing imports this folder.
import type { CommandModule } from 'yargs';
import { withoutTurbofan } from '../nbd-node/without-turbofan.js';
import { parsePlainArgv, type PlainCommand } from './plain-argv.js';

// Each command's module is loaded only when that command runs: the daemon must not pay for
// express, nor the web frontend for nbdkit probing (start-up time is a measured target).
// All are loaded for `--help` or an unknown command, so yargs can list them.
// yargs' CommandModule is invariant in its argument type, and each command has its own.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const commands: Record<string, () => Promise<CommandModule<any, any>>> = {
  daemon: async () => (await import('./daemon.js')).daemonCommand,
  start: async () => (await import('./start.js')).startCommand,
  web: async () => (await import('./web.js')).webCommand,
  nbd: async () => (await import('./nbd.js')).nbdCommand,
  host: async () => (await import('./host.js')).hostCommand,
  gateway: async () => (await import('./gateway.js')).gatewayCommand,
  status: async () => (await import('./status.js')).statusCommand,
  mount: async () => (await import('./mount.js')).mountCommand,
  'mount-generated': async () => (await import('./mount-generated.js')).mountGeneratedCommand,
  eject: async () => (await import('./eject.js')).ejectCommand,
  user: async () => (await import('./user.js')).userCommand,
  config: async () => (await import('./config-check.js')).configCommand,
};

// The long-running commands with their units' plain options skip yargs (src/cli/plain-argv.ts).
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command has its own arguments
const plainCommands: Record<string, () => Promise<PlainCommand<any>>> = {
  daemon: async () => (await import('./daemon.js')).daemonPlain,
  web: async () => (await import('./web.js')).webPlain,
};

const argv = process.argv.slice(2);
// The daemon runs without TurboFan (src/nbd-node/without-turbofan.ts); set before its modules load:
// resolving and evaluating the bundle's chunks had V8 optimize the module loader's own functions,
// the more the longer the bundle's path (3.5 MiB of the node binary's pages, docs/performance.md).
if (argv[0] === 'daemon') withoutTurbofan();
const plain =
  argv[0] !== undefined && Object.hasOwn(plainCommands, argv[0]) ? await plainCommands[argv[0]]!() : undefined;
const plainArgs = plain && parsePlainArgv(plain.options, argv.slice(1));
if (plain && plainArgs) await plain.run(plainArgs);
else await parseWithYargs();

async function parseWithYargs(): Promise<void> {
  const { default: yargs } = await import('yargs');
  const named = argv[0] !== undefined && Object.hasOwn(commands, argv[0]) ? [argv[0]] : Object.keys(commands);
  let cli = yargs(argv).scriptName('vmedia');
  // eslint-disable-next-line @typescript-eslint/no-unsafe-argument -- see the table above
  for (const name of named) cli = cli.command(await commands[name]!());
  await cli.strict().demandCommand(1, 'name a command; see --help').help().parseAsync();
}
