// `vmedia mount-generated SLOT FILE.json`: GeneratedMedia.Mount over D-Bus. The daemon builds a
// config drive, NoCloud or floppy image from the document (an ISO for a CD slot, FAT for a USB
// stick) and attaches it; the file's descriptor is what travels (its secrets never go through
// argv or a D-Bus string). Waits for the Completion and prints the nonce the host will find.
import { closeSync, fstatSync, openSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { completionWaitMs } from '../contract.js';
import {
  GENERATED_MEDIA_INPUT_ERROR,
  GENERATED_MEDIA_MAX_DOCUMENT_BYTES,
  parseInputProblem,
} from '../dbus/generated-media.js';
import { DaemonCallError } from '../web/daemon/client.js';
import { busOption, findSlot, withDaemon, type BusArgs } from './daemon-connection.js';
import { checkCompletion, CliError, EXIT, runOperatorCommand, usageFailure } from './operator-exit.js';

interface MountGeneratedArgs extends BusArgs {
  slot: string;
  file: string;
  rw: boolean;
}

/** A read-only descriptor of the document, after the checks the daemon would make anyway. */
function openDocument(file: string): number {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new CliError(EXIT.invalid, `cannot open ${file}: ${(err as Error).message}`);
  }
  const stat = fstatSync(fd);
  const problem = !stat.isFile()
    ? 'is not a regular file'
    : stat.size > GENERATED_MEDIA_MAX_DOCUMENT_BYTES
      ? `is larger than ${GENERATED_MEDIA_MAX_DOCUMENT_BYTES} bytes`
      : undefined;
  if (problem) {
    closeSync(fd);
    throw new CliError(EXIT.invalid, `${file} ${problem}`);
  }
  return fd;
}

async function mountGenerated(args: MountGeneratedArgs): Promise<void> {
  await withDaemon(args.bus, async (client) => {
    const slot = await findSlot(client, args.slot);
    if (slot.mode !== 'Legacy') {
      throw new CliError(EXIT.invalid, `${slot.name} is a Proxy slot: generated media goes into a Legacy slot`);
    }
    const fd = openDocument(args.file);
    let errno: number;
    try {
      errno = await client.mountGenerated(slot, { fd, rw: args.rw }, completionWaitMs(slot.timeout));
    } catch (err) {
      if (err instanceof DaemonCallError && err.errorName === GENERATED_MEDIA_INPUT_ERROR) {
        const { path, reason } = parseInputProblem(err.message);
        throw new CliError(EXIT.invalid, `${args.file}${path === '' ? '' : ` at ${path}`}: ${reason}`);
      }
      throw err;
    } finally {
      closeSync(fd);
    }
    checkCompletion(slot.name, 'attaching the generated media', errno);
    const attached = (await findSlot(client, slot.name)).generatedMedia;
    if (!attached) throw new CliError(EXIT.failed, `${slot.name}: the generated media was ejected at once`);
    process.stdout.write(
      `${slot.name}: attached ${attached.format} "${attached.label}" (${args.rw ? 'read-write' : 'read-only'}), nonce ${attached.nonce}\n`,
    );
  });
}

export const mountGeneratedCommand: CommandModule<object, MountGeneratedArgs> = {
  command: 'mount-generated <slot> <file>',
  describe: 'build a config drive, NoCloud or floppy image from a JSON document and attach it to a Legacy slot',
  builder: (y) =>
    busOption(y)
      .positional('slot', { type: 'string', demandOption: true, describe: 'a Legacy slot, e.g. Slot_3' })
      .positional('file', {
        type: 'string',
        demandOption: true,
        describe: 'the JSON document (docs/generated-media.md); a CD slot gets an ISO, a USB-stick slot FAT',
      })
      .option('rw', { type: 'boolean', default: false, describe: 'let the host write to the image' })
      .fail(usageFailure('mount-generated')),
  handler: (args) => runOperatorCommand('mount-generated', () => mountGenerated(args)),
};
