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
  // one assignment a line, quoted when its value has spaces (Environment="NODE_OPTIONS=a b")
  for (const [, quoted, plain] of readFileSync(path.join(REPO, unit), 'utf8').matchAll(
    /^Environment=(?:"([^"]*)"|(.*))$/gm,
  )) {
    const assignment = quoted ?? plain!;
    const eq = assignment.indexOf('=');
    if (MEMORY_VARIABLES.includes(assignment.slice(0, eq))) env[assignment.slice(0, eq)] = assignment.slice(eq + 1);
  }
  return env;
}

/** The units' memory environment; both units must agree (one set of figures for both). */
export function unitEnvironment(): Record<string, string> {
  const [daemon, web] = UNITS.map(memoryEnvironment);
  if (JSON.stringify(daemon) !== JSON.stringify(web))
    throw new Error(`the units' memory environment differs: ${JSON.stringify(daemon)} | ${JSON.stringify(web)}`);
  return daemon!;
}

/** What the benchmarks give the bundle's daemon and web: the units' memory environment, with
 *  unitNodeOptions() as NODE_OPTIONS, and $BENCH_UNIT_ENV ('KEY=VALUE;KEY=VALUE') added over it
 *  for an A/B run of a malloc tunable before it goes into the units. */
export function unitMemoryEnvironment(): Record<string, string> {
  return { ...unitEnvironment(), NODE_OPTIONS: unitNodeOptions(), ...benchUnitEnvironment() };
}

function benchUnitEnvironment(): Record<string, string> {
  return parseAssignments(process.env.BENCH_UNIT_ENV ?? '', 'BENCH_UNIT_ENV');
}

/** 'KEY=VALUE;KEY=VALUE' as an environment ($BENCH_UNIT_ENV, run.ts's --variant); `what` names the
 *  input in the error of a malformed pair. */
export function parseAssignments(spec: string, what: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of spec.split(';').filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new Error(`${what}: "${pair}" is not KEY=VALUE`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

/** The units' NODE_OPTIONS (bench/paths runs the bundle with them); $BENCH_NODE_OPTIONS replaces
 *  them for an A/B run of a flag before it goes into the units. */
export function unitNodeOptions(): string {
  return process.env.BENCH_NODE_OPTIONS ?? unitEnvironment().NODE_OPTIONS ?? '';
}
