// Idle memory of `vmedia daemon` and `vmedia web` as a BMC runs them (a script, not a test):
//   npx tsx bench/memory/run.ts [--rounds 3] [--entry BUNDLE/dist/cli/main.mjs]
//     [--variant 'NAME:KEY=VALUE;KEY=VALUE' ...]
// Builds the production bundle (scripts/bundle.ts) into bench/out/memory-bundle unless --entry
// names one, starts the stack of the tests (private bus, daemon with the export backend, web) on
// it with the units' environment (systemd/*.service: NODE_OPTIONS, MALLOC_ARENA_MAX) and reads
// each process's RSS after it has been idle, then again after the first Redfish request (which
// loads Express). The RSS is split into the node binary's pages (file-backed, shared, touched by
// the code V8 and Node run), other file pages (libc, OpenSSL's and ICU's libraries when shared)
// and the process's own (anonymous) memory, which is what our code and flags decide. The stack's
// web makes its self-signed certificate (a first start: its X.509 code stays loaded), so a second
// web on the same bus is started as its unit runs it, with that certificate (--cert, --key).
// Each --variant is a second configuration measured in the same run, its rounds interleaved with
// the units' (A/B on a loaded machine): environment variables replacing the units' (a flag in
// NODE_OPTIONS, MALLOC_ARENA_MAX=…), and ENTRY=… for another bundle (the code before a change).
// Targets (issue 15): daemon ≤ 56 MiB, web ≤ 60 MiB.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildBundle } from '../../scripts/bundle.js';
import { vmediaArgs } from '../../test/helpers/daemon.js';
import { startStack, type Stack } from '../../test/helpers/stack.js';
import { webListening } from '../../test/helpers/web-listening.js';
import { sleep } from '../paths/measure.js';
import { parseAssignments, unitEnvironment } from './unit-node-options.js';

const REPO = path.resolve(import.meta.dirname, '../..');
/** Longer than idle-gc.ts's idle collection (a quiet 2 s interval after the busy start) and than
 *  the collection V8 makes by itself 9-10 s after the daemon's start (about 30 ms of CPU, no
 *  outside work): it unmaps 7-14 of V8's 256 KiB pages, 2-3 MiB of the idle daemon's RSS. Read at
 *  8 s, the daemon was sometimes before it and sometimes after (the two levels, 53.0 or 50.9). */
const SETTLE_MS = 15_000;

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    entry: { type: 'string' },
    variant: { type: 'string', multiple: true, default: [] },
  },
});
const rounds = Number(values.rounds);

interface Variant {
  name: string;
  env: Record<string, string>;
}

function parseVariant(spec: string): Variant {
  const colon = spec.indexOf(':');
  if (colon < 1) throw new Error(`--variant ${spec}: expected NAME:KEY=VALUE;KEY=VALUE`);
  return { name: spec.slice(0, colon), env: parseAssignments(spec.slice(colon + 1), `--variant ${spec}`) };
}

interface RssParts {
  rss: number;
  /** file pages of the node executable */
  nodeBinary: number;
  /** other file-backed pages (shared libraries, the bundle's files are read, not mapped) */
  otherFiles: number;
  /** anonymous pages: V8's heaps and code, malloc's arenas, thread stacks */
  anon: number;
}

/** RSS split by where the pages come from (/proc/PID/smaps), MiB. */
function rssParts(pid: number): RssParts {
  let mapping = '';
  const kib = { rss: 0, nodeBinary: 0, anon: 0 };
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) mapping = line.split(/\s+/)[5] ?? '';
    else if (line.startsWith('Rss:')) {
      const n = Number(line.split(/\s+/)[1]);
      kib.rss += n;
      if (mapping === process.execPath) kib.nodeBinary += n;
    } else if (line.startsWith('Anonymous:')) kib.anon += Number(line.split(/\s+/)[1]);
  }
  const mib = (n: number) => n / 1024;
  return {
    rss: mib(kib.rss),
    nodeBinary: mib(kib.nodeBinary),
    otherFiles: mib(kib.rss - kib.nodeBinary - kib.anon),
    anon: mib(kib.anon),
  };
}

const entry =
  values.entry ?? (await buildBundle({ outDir: path.join(REPO, 'bench/out/memory-bundle'), full: true })).entry;
const unitEnv = unitEnvironment();
const variants: Variant[] = [{ name: 'units', env: {} }, ...values.variant.map(parseVariant)];

/** A second `vmedia web` on the stack's bus with the stack web's certificate, idle, as its unit
 *  runs it (--cert: the self-signed certificate's code is never loaded). */
async function webWithCert(stack: Stack): Promise<RssParts> {
  const webDir = path.join(stack.dir, 'web');
  const child = spawn(
    process.execPath,
    [
      ...vmediaArgs(),
      'web',
      ...['--bus', stack.busAddress, '--listen', '127.0.0.1:0', '--users', path.join(stack.dir, 'users.json')],
      ...['--cert', path.join(webDir, 'web-cert.pem'), '--key', path.join(webDir, 'web-key.pem')],
      ...['--truststore', stack.trustStore, '--runtime-dir', path.join(stack.dir, 'web-with-cert')],
    ],
    { env: { ...process.env, VMEDIA_LOG_FORMAT: 'json', VMEDIA_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const web = await webListening(child, 60_000);
  try {
    await sleep(SETTLE_MS);
    return rssParts(child.pid!);
  } finally {
    await web.stop();
  }
}

type Row = Record<'daemon' | 'web' | 'webAfterRequest' | 'webWithCert', RssParts>;
const rows = new Map<string, Row[]>(variants.map((v) => [v.name, []]));
const baseEnv = { ...process.env };
for (let r = 0; r < rounds; r++) {
  for (const variant of variants) {
    // the stack passes our environment on to the daemon and the web
    const { ENTRY, ...env } = { ENTRY: entry, ...unitEnv, ...variant.env };
    process.env = { ...baseEnv, ...env, VMEDIA_TEST_ENTRY: ENTRY };
    const stack = await startStack({ webEnv: { VMEDIA_LOG_LEVEL: 'warn' }, startTimeoutMs: 60_000 });
    try {
      await sleep(SETTLE_MS);
      const daemon = rssParts(stack.daemon.pid);
      const web = rssParts(stack.webPid);
      const res = await stack.request('/redfish/v1/Managers/bmc/VirtualMedia/Slot_0', { auth: stack.admin });
      if (res.status !== 200) throw new Error(`GET Slot_0: ${res.status}`);
      await sleep(SETTLE_MS);
      const webAfterRequest = rssParts(stack.webPid);
      rows.get(variant.name)!.push({ daemon, web, webAfterRequest, webWithCert: await webWithCert(stack) });
    } finally {
      await stack.stop();
      process.env = baseEnv;
    }
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`bundle ${entry}, ${rounds} rounds, ${SETTLE_MS / 1000} s idle, load ${load}; medians (range), MiB`);
console.log(
  `units: ${Object.entries(unitEnv)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')}`,
);
for (const v of variants.slice(1))
  console.log(
    `${v.name}: ${Object.entries(v.env)
      .map(([k, val]) => `${k}=${val}`)
      .join(' ')}`,
  );
console.log('\n| process | variant | RSS | node binary pages | other file pages | own (anonymous) | target |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
const targets: Record<keyof Row, string> = { daemon: '≤ 56', web: '', webAfterRequest: '', webWithCert: '≤ 60' };
const names: Record<keyof Row, string> = {
  daemon: 'daemon, idle',
  web: 'web, idle (first start: makes its certificate)',
  webAfterRequest: 'web, after a Redfish GET',
  webWithCert: 'web, idle, with --cert as its unit',
};
for (const key of Object.keys(names) as (keyof Row)[]) {
  for (const variant of variants) {
    const parts = rows.get(variant.name)!.map((row) => row[key]);
    const rss = parts.map((p) => p.rss);
    const range = `${Math.min(...rss).toFixed(1)}–${Math.max(...rss).toFixed(1)}`;
    const cell = (pick: (p: RssParts) => number) => median(parts.map(pick)).toFixed(1);
    console.log(
      `| ${names[key]} | ${variant.name} | ${median(rss).toFixed(1)} (${range}) | ${cell((p) => p.nodeBinary)} | ${cell((p) => p.otherFiles)} | ${cell((p) => p.anon)} | ${targets[key]} |`,
    );
  }
}
