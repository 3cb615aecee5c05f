// Where the operator commands take a password from, never from argv or the environment (both
// are visible to other local users): a file (`--password-file`, also `/dev/stdin` or `<(…)`),
// else standard input when it is not a terminal, else a prompt on the terminal without echo.
// One trailing line break is not part of the password.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CliError, EXIT } from './operator-exit.js';

/** More than a password needs, little enough to read whole. */
const MAX_SECRET_BYTES = 4096;

export interface SecretOptions {
  /** `--password-file`, when given. */
  file?: string;
  /** The prompt's text, e.g. "password for root". */
  prompt: string;
  /** Prompt twice and compare (a new password). */
  confirm?: boolean;
}

export async function readSecret(opts: SecretOptions): Promise<string> {
  let text: string;
  if (opts.file !== undefined) text = readSecretFile(opts.file);
  else if (!process.stdin.isTTY) text = await readStdin();
  else {
    text = await promptHidden(`${opts.prompt}: `);
    if (opts.confirm && (await promptHidden(`${opts.prompt} (again): `)) !== text) {
      throw new CliError(EXIT.invalid, 'the two passwords differ');
    }
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '') throw new CliError(EXIT.invalid, `empty password (${opts.file ?? 'standard input'})`);
  return secret;
}

function tooLong(where: string): CliError {
  return new CliError(EXIT.invalid, `${where}: more than ${MAX_SECRET_BYTES} bytes; is that a password file?`);
}

function readSecretFile(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new CliError(EXIT.invalid, `password file: ${(err as Error).message}`);
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw new CliError(EXIT.invalid, `password file ${file} is a directory`);
    if (stat.isFile() && (stat.mode & 0o077) !== 0) {
      process.stderr.write(`vmedia: warning: password file ${file} is readable by other users (chmod 600 it)\n`);
    }
    // read in a loop: a pipe (`<(…)`) has no size and returns what is there so far
    const buffer = Buffer.alloc(MAX_SECRET_BYTES + 1);
    let length = 0;
    for (let n = 1; n > 0 && length < buffer.length; length += n) {
      n = readSync(fd, buffer, length, buffer.length - length, null);
    }
    if (length > MAX_SECRET_BYTES) throw tooLong(`password file ${file}`);
    const text = buffer.toString('utf8', 0, length);
    buffer.fill(0);
    return text;
  } finally {
    closeSync(fd);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    length += (chunk as Buffer).length;
    if (length > MAX_SECRET_BYTES) throw tooLong('standard input');
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads one line from the terminal with echo off (raw mode); Ctrl-C or Ctrl-D cancels. */
async function promptHidden(question: string): Promise<string> {
  const tty = process.stdin;
  // echo off before the prompt shows: what is typed after seeing it is never echoed
  tty.setRawMode(true);
  process.stderr.write(question);
  tty.resume();
  let onData: ((chunk: Buffer) => void) | undefined;
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = '';
      onData = (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') return resolve(typed);
          if (ch === '\u0003' || ch === '\u0004') return reject(new CliError(EXIT.invalid, 'cancelled'));
          if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
          else if (typed.length < MAX_SECRET_BYTES) typed += ch;
        }
      };
      tty.on('data', onData);
    });
  } finally {
    if (onData) tty.off('data', onData);
    tty.setRawMode(false);
    tty.pause();
    process.stderr.write('\n');
  }
}
