// Idle memory of `vmedia daemon` and `vmedia web` as a BMC runs them (a script, not a test):
//   npx tsx bench/memory/run.ts [--rounds 3] [--entry BUNDLE/dist/cli/main.mjs]
// Builds the production bundle (scripts/bundle.ts) into bench/out/memory-bundle unless --entry
// names one, starts the stack of the tests (private bus, daemon with the export backend, web) on
// it with the units' NODE_OPTIONS and reads each process's VmRSS after it has been idle, then again after the first Redfish
// request (which loads Express). Also splits the RSS into the node binary's pages (file-backed,
// shared, touched by the code V8 and Node run) and the process's own (anonymous) memory, which
// is what our code decides. Targets (issue 15): daemon ≤ 56 MiB, web ≤ 60 MiB.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildBundle } from '../../scripts/bundle.js';
import { startStack } from '../../test/helpers/stack.js';
import { rssMiB, sleep } from '../paths/measure.js';
import { unitNodeOptions } from './unit-node-options.js';

const REPO = path.resolve(import.meta.dirname, '../..');
/** Longer than lean-heap.ts's idle collection (a quiet 2 s interval after the busy start). */
const SETTLE_MS = 8000;

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, entry: { type: 'string' } } });
const rounds = Number(values.rounds);

/** VmRSS split by where the pages come from (smaps): the node binary's file pages, the rest. */
function rssParts(pid: number): { rss: number; nodeBinary: number } {
  let mapping = '';
  let nodeBinary = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) mapping = line.split(/\s+/)[5] ?? '';
    else if (line.startsWith('Rss:') && mapping === process.execPath) nodeBinary += Number(line.split(/\s+/)[1]) / 1024;
  }
  return { rss: rssMiB(pid), nodeBinary };
}

const entry =
  values.entry ?? (await buildBundle({ outDir: path.join(REPO, 'bench/out/memory-bundle'), full: true })).entry;
process.env.VMEDIA_TEST_ENTRY = entry;
// the daemon and the web get the units' V8 flags (the stack passes our environment on)
process.env.NODE_OPTIONS = unitNodeOptions();

type Row = Record<'daemon' | 'web' | 'webAfterRequest', { rss: number; nodeBinary: number }>;
const rows: Row[] = [];
for (let r = 0; r < rounds; r++) {
  const stack = await startStack({ webEnv: { VMEDIA_LOG_LEVEL: 'warn' }, startTimeoutMs: 60_000 });
  try {
    await sleep(SETTLE_MS);
    const daemon = rssParts(stack.daemon.pid);
    const web = rssParts(stack.webPid);
    const res = await stack.request('/redfish/v1/Managers/bmc/VirtualMedia/Slot_0', { auth: stack.admin });
    if (res.status !== 200) throw new Error(`GET Slot_0: ${res.status}`);
    await sleep(SETTLE_MS);
    rows.push({ daemon, web, webAfterRequest: rssParts(stack.webPid) });
  } finally {
    await stack.stop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(
  `bundle ${entry}, NODE_OPTIONS=${process.env.NODE_OPTIONS}, ${rounds} rounds, ${SETTLE_MS / 1000} s idle, load ${load}; medians (range), MiB\n`,
);
console.log('| process | VmRSS | of which node binary pages | own (RSS − binary) | target |');
console.log('| --- | --- | --- | --- | --- |');
const targets: Record<keyof Row, string> = { daemon: '≤ 56', web: '≤ 60', webAfterRequest: '' };
const names: Record<keyof Row, string> = {
  daemon: 'daemon, idle',
  web: 'web, idle',
  webAfterRequest: 'web, after a Redfish GET',
};
for (const key of Object.keys(names) as (keyof Row)[]) {
  const rss = rows.map((row) => row[key].rss);
  const bin = rows.map((row) => row[key].nodeBinary);
  const own = rows.map((row) => row[key].rss - row[key].nodeBinary);
  const range = `${Math.min(...rss).toFixed(1)}–${Math.max(...rss).toFixed(1)}`;
  console.log(
    `| ${names[key]} | ${median(rss).toFixed(1)} (${range}) | ${median(bin).toFixed(1)} | ${median(own).toFixed(1)} | ${targets[key]} |`,
  );
}
