// Exit codes and error reporting of the operator commands (status, mount, eject, user, config
// check), so a script can tell a refused input from a failed operation from an absent daemon
// (docs/cli.md). Messages go to stderr, data to stdout.
import { CompletionTimeout, DaemonCallError, DaemonUnavailable } from '../web/daemon/client.js';
import { errnoText } from '../web/daemon/errno.js';

export const EXIT = {
  ok: 0,
  /** The operation was tried and failed: a D-Bus error reply, a Completion errno, a file write. */
  failed: 1,
  /** Bad usage or input: unknown option or slot, bad URL, bad password file, invalid config. */
  invalid: 2,
  /** The daemon is not reachable: no bus, nobody owns its name, or it did not answer in time. */
  unreachable: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the command reports as one line and an exit code. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The Completion an operation waited for: a non-zero errno is the failure of `doing` on the slot. */
export function checkCompletion(slotName: string, doing: string, errno: number): void {
  if (errno !== 0) throw new CliError(EXIT.failed, `${slotName}: ${doing} failed: ${errnoText(errno)}`);
}

/** yargs' failure handler for usage errors (unknown option, missing argument): exit 2, not yargs' 1. */
export function usageFailure(command: string) {
  return (message: string | null | undefined, err: Error | undefined): never => {
    // yargs also calls this with what a handler threw (no message): a bug, with its stack
    if (!message && err) throw err;
    process.stderr.write(`vmedia ${command}: ${message}\nsee: vmedia ${command} --help\n`);
    process.exit(EXIT.invalid);
  };
}

/** Runs a command's body and turns what it throws into a message on stderr and the exit code. */
export async function runOperatorCommand(command: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    const [exitCode, message] = describeFailure(err);
    process.stderr.write(`vmedia ${command}: ${message}\n`);
    process.exitCode = exitCode;
  }
}

function describeFailure(err: unknown): [ExitCode, string] {
  if (err instanceof CliError) return [err.exitCode, err.message];
  if (err instanceof DaemonUnavailable) return [EXIT.unreachable, err.message];
  // only the first line: a D-Bus library's error text can carry its stack trace
  if (err instanceof DaemonCallError) return [EXIT.failed, `${err.errorName}: ${err.message.split('\n')[0]}`];
  if (err instanceof CompletionTimeout) return [EXIT.failed, `${err.message}; see vmedia status`];
  throw err; // a bug: let Node print the stack
}
