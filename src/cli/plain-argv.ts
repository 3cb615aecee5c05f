// The long-running commands (`vmedia daemon`, `vmedia web`) parsed without yargs: their units
// pass fixed string options, and yargs with its helpers stays in the process's heap for its
// whole life (1–2 MiB of a daemon that must idle in ≤ 56 MiB; docs/performance.md). The command
// declares its options once, in yargs' format (its builder passes the same table to yargs), and
// anything this parser does not take plainly (--help, an unknown or repeated option, a missing
// value, a bad choice, conflicting options) goes to yargs, which gives the usual error and usage.
import { parseArgs } from 'node:util';

/** One `--name VALUE` option, as yargs' `.options()` takes it. */
export interface StringOption {
  type: 'string';
  describe: string;
  default?: string;
  choices?: readonly string[];
  conflicts?: string;
}

export type StringOptions = Record<string, StringOption>;

/** A command that runs from its options alone. */
export interface PlainCommand<Args> {
  options: StringOptions;
  run(args: Args): Promise<void>;
}

/**
 * `argv` (after the command's name) as the command's arguments, or undefined when it is anything
 * but `--name VALUE` / `--name=VALUE` for declared options, each at most once, within the
 * declared choices and conflicts: yargs then parses it (and reports what is wrong).
 */
export function parsePlainArgv(options: StringOptions, argv: string[]): Record<string, string> | undefined {
  let values: Record<string, string | boolean | undefined>;
  try {
    const parsed = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.keys(options).map((name) => [name, { type: 'string' as const }])),
      strict: true,
      allowPositionals: false,
      tokens: true,
    });
    const names = parsed.tokens.filter((t) => t.kind === 'option').map((t) => t.name);
    if (new Set(names).size !== names.length) return undefined;
    values = parsed.values;
  } catch {
    return undefined;
  }
  const args: Record<string, string> = {};
  for (const [name, option] of Object.entries(options)) {
    const value = values[name];
    if (typeof value === 'string') {
      if (option.choices && !option.choices.includes(value)) return undefined;
      if (option.conflicts && values[option.conflicts] !== undefined) return undefined;
      args[name] = value;
    } else if (option.default !== undefined) args[name] = option.default;
  }
  return args;
}
