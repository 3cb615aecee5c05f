#!/usr/bin/env node
// The `vmedia` command: wires the parts together. Nothing imports this folder.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';

await yargs(hideBin(process.argv))
  .scriptName('vmedia')
  .strict()
  .demandCommand(1, 'name a command; see --help')
  .help()
  .parseAsync();
