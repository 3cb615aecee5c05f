// What the installed nbdkit can do: which plugins and filters load. Checked once at startup so
// Redfish advertises only schemes that work and a missing piece is named in the log.
import { execFile } from 'node:child_process';

export interface NbdkitCapabilities {
  plugins: Set<string>;
  filters: Set<string>;
  /** One human-readable line per missing piece. */
  missing: string[];
}

const NBDKIT = process.env.VMEDIA_NBDKIT ?? 'nbdkit';
const PLUGINS = ['curl', 'file', 'ssh'] as const;
const FILTERS = ['retry', 'retry-request', 'cache', 'cow', 'xz', 'gzip'] as const;

export async function probeNbdkit(): Promise<NbdkitCapabilities> {
  const caps: NbdkitCapabilities = { plugins: new Set(), filters: new Set(), missing: [] };
  const checks = [
    ...PLUGINS.map(async (p) => {
      const err = await run([p, '--dump-plugin']);
      if (err === undefined) caps.plugins.add(p);
      else caps.missing.push(`nbdkit plugin "${p}" does not load: ${err}`);
    }),
    ...FILTERS.map(async (f) => {
      const err = await run([`--filter=${f}`, 'null', '--dump-plugin']);
      if (err === undefined) caps.filters.add(f);
      else caps.missing.push(`nbdkit filter "${f}" does not load: ${err}`);
    }),
  ];
  await Promise.all(checks);
  return caps;
}

/** undefined when nbdkit ran fine, else why not. */
function run(args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(NBDKIT, args, { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve(undefined);
      const why = stderr.trim().split('\n').pop() || err.message;
      resolve(why);
    });
  });
}
