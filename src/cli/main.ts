#!/usr/bin/env node
// The `vmedia` command: wires the parts together. Nothing imports this folder.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { daemonCommand } from './daemon.js';
import { nbdCommand } from './nbd.js';
import { startCommand } from './start.js';
import { webCommand } from './web.js';

await yargs(hideBin(process.argv))
  .scriptName('vmedia')
  .command(daemonCommand)
  .command(startCommand)
  .command(nbdCommand)
  .command(webCommand)
  .strict()
  .demandCommand(1, 'name a command; see --help')
  .help()
  .parseAsync();
