// The environment the systemd units give `vmedia daemon` and `vmedia web` for memory (V8's flags
// in NODE_OPTIONS, glibc's malloc tunables): the benchmarks run the bundle with it, as a BMC does.
import { readFileSync } from 'node:fs';
import path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '../..');
const UNITS = ['systemd/xyz.openbmc_project.VirtualMedia.service', 'systemd/vmedia-web.service'];
/** The units' variables that shape memory (VMEDIA_LOG_FORMAT and the like are the stack's). */
const MEMORY_VARIABLES = ['NODE_OPTIONS', 'MALLOC_ARENA_MAX'];

function memoryEnvironment(unit: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [, key, value] of readFileSync(path.join(REPO, unit), 'utf8').matchAll(/^Environment=(\w+)=(.*)$/gm))
    if (MEMORY_VARIABLES.includes(key!)) env[key!] = value!;
  return env;
}

/** The units' memory environment; both units must agree (one set of figures for both). */
export function unitEnvironment(): Record<string, string> {
  const [daemon, web] = UNITS.map(memoryEnvironment);
  if (JSON.stringify(daemon) !== JSON.stringify(web))
    throw new Error(`the units' memory environment differs: ${JSON.stringify(daemon)} | ${JSON.stringify(web)}`);
  return daemon!;
}

/** The units' NODE_OPTIONS (bench/paths runs the bundle with them). */
export function unitNodeOptions(): string {
  return unitEnvironment().NODE_OPTIONS ?? '';
}
