// `vmedia mount SLOT URL`: Legacy Mount over D-Bus, as Redfish InsertMedia does it: image
// credentials only through the credentials pipe (never argv or environment) and only over an
// encrypted scheme; waits for the slot's Completion and reports it.
import { tmpdir } from 'node:os';
import type { CommandModule } from 'yargs';
import { ENCRYPTED_SCHEMES, MAX_CREDENTIAL_PART_BYTES } from '../contract.js';
import { createLogger, redactUrl } from '../log.js';
import { createProcessRunner } from '../process/runner.js';
import type { SlotState } from '../web/daemon/client.js';
import { mountLegacy } from '../web/daemon/legacy-mount.js';
import { busOption, findSlot, withDaemon, type BusArgs } from './daemon-connection.js';
import { checkCompletion, CliError, EXIT, runOperatorCommand, usageFailure } from './operator-exit.js';
import { readSecret } from './secret-input.js';

interface MountArgs extends BusArgs {
  slot: string;
  url: string;
  user?: string;
  'password-file'?: string;
  rw: boolean;
}

/** The URL as the slot can take it, or why not (exit 2): the daemon would refuse it anyway. */
function checkedUrl(text: string, slot: SlotState): URL {
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\x00-\x1f\x7f]/.test(text)) throw new CliError(EXIT.invalid, 'the URL contains control characters');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(EXIT.invalid, `not a URL: ${text}; give e.g. https://host/os.iso`);
  }
  const scheme = url.protocol.slice(0, -1);
  if (!slot.schemes.includes(scheme)) {
    throw new CliError(
      EXIT.invalid,
      `${slot.name} cannot serve ${scheme}:// now; it serves ${slot.schemes.join(', ')}`,
    );
  }
  return url;
}

async function imageCredentials(args: MountArgs, url: URL): Promise<{ user: string; password: string } | undefined> {
  if (args.user === undefined) return undefined;
  const scheme = url.protocol.slice(0, -1);
  if (!ENCRYPTED_SCHEMES.includes(scheme)) {
    throw new CliError(
      EXIT.invalid,
      `credentials would travel unencrypted over ${scheme}; use ${ENCRYPTED_SCHEMES.join(', ')} or no --user`,
    );
  }
  const password = await readSecret({
    file: args['password-file'],
    prompt: `password of ${args.user} for ${url.host}`,
  });
  for (const [what, value] of [
    ['user name', args.user],
    ['password', password],
  ] as const) {
    if (Buffer.byteLength(value) > MAX_CREDENTIAL_PART_BYTES)
      throw new CliError(EXIT.invalid, `the ${what} is longer than ${MAX_CREDENTIAL_PART_BYTES} bytes`);
    if (value.includes('\0')) throw new CliError(EXIT.invalid, `the ${what} contains a NUL character`);
  }
  return { user: args.user, password };
}

async function mount(args: MountArgs): Promise<void> {
  await withDaemon(args.bus, async (client) => {
    const slot = await findSlot(client, args.slot);
    if (slot.mode !== 'Legacy') {
      throw new CliError(
        EXIT.invalid,
        `${slot.name} is a Proxy slot: its media comes from a browser or NBD server on ${slot.socket}, not from a URL`,
      );
    }
    const url = checkedUrl(args.url, slot);
    const credentials = await imageCredentials(args, url);
    const pipes = {
      runner: createProcessRunner(createLogger('vmedia-mount', 'warn')),
      runtimeDir: process.env.XDG_RUNTIME_DIR ?? tmpdir(),
    };
    const errno = await mountLegacy(client, slot, { url: args.url, rw: args.rw, credentials }, pipes);
    const shown = redactUrl(url);
    checkCompletion(slot.name, `mounting ${shown}`, errno);
    process.stdout.write(`${slot.name}: mounted ${shown} (${args.rw ? 'read-write' : 'read-only'})\n`);
  });
}

export const mountCommand: CommandModule<object, MountArgs> = {
  command: 'mount <slot> <url>',
  describe: 'insert an image URL into a Legacy slot and wait for the outcome',
  builder: (y) =>
    busOption(y)
      .positional('slot', { type: 'string', demandOption: true, describe: 'a Legacy slot, e.g. Slot_2' })
      .positional('url', { type: 'string', demandOption: true, describe: 'the image, e.g. https://host/os.iso' })
      .option('user', { type: 'string', describe: "the image server's user name" })
      .option('password-file', {
        type: 'string',
        describe: 'file holding its password (else standard input, else a prompt)',
      })
      .option('rw', { type: 'boolean', default: false, describe: 'let the host write to the image' })
      .check((a) => {
        if (a['password-file'] !== undefined && a.user === undefined) throw new Error('--password-file needs --user');
        return true;
      })
      .fail(usageFailure('mount')),
  handler: (args) => runOperatorCommand('mount', () => mount(args)),
};
