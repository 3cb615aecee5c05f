// What the installed nbdkit can do: which plugins and filters load. Checked once at startup so
// Redfish advertises only schemes that work and a missing piece is named in the log.
import type { ProcessRunner } from '../../process/runner.js';

export interface NbdkitCapabilities {
  plugins: Set<string>;
  filters: Set<string>;
  /** One human-readable line per missing piece. */
  missing: string[];
}

const NBDKIT = process.env.VMEDIA_NBDKIT ?? 'nbdkit';
const PLUGINS = ['curl', 'file', 'ssh'] as const;
const FILTERS = ['retry', 'retry-request', 'cache', 'cow', 'xz', 'gzip'] as const;

export async function probeNbdkit(runner: ProcessRunner): Promise<NbdkitCapabilities> {
  /** undefined when nbdkit ran fine, else why not. */
  const run = async (args: string[]): Promise<string | undefined> => {
    const r = await runner.run(NBDKIT, args, { timeoutMs: 10_000, onLine: () => undefined });
    if (r.code === 0) return undefined;
    return r.stderr.trim().split('\n').pop() || (r.timedOut ? 'timed out' : `exit code ${r.code}`);
  };
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
