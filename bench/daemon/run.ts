// Benchmark of the daemon process (a script, not a test):
//   node --import tsx bench/daemon/run.ts [--runs 5]
// Startup: process spawn → xyz.openbmc_project.VirtualMedia owned (seen as NameOwnerChanged on a
// private bus), and idle RSS 2 s later, for the daemon compiled by tsc (what `npm start` and a
// BMC run) and from source under tsx (what the tests run). Floors, as ratios: a bare `node -e`
// process (spawn → exit; idle RSS), and a `node -e` that only owns a bus name with dbus-next.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import dbus from 'dbus-next';
import { connectBus } from '../../src/dbus/connect.js';
import { BUS_NAME } from '../../src/dbus/names.js';
import { startTestBus } from '../../test/helpers/private-bus.js';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Number(values.runs);

const bus = await startTestBus();
const work = mkdtempSync(path.join(tmpdir(), 'vmedia-bench-daemon-'));
const watcher = await connectBus(bus.address);
await watcher.call(
  new dbus.Message({
    destination: 'org.freedesktop.DBus',
    path: '/org/freedesktop/DBus',
    interface: 'org.freedesktop.DBus',
    member: 'AddMatch',
    signature: 's',
    body: ["type='signal',member='NameOwnerChanged'"],
  }),
);

/** Resolves at the NameOwnerChanged that gives `name` an owner. */
function nameOwned(name: string): Promise<bigint> {
  return new Promise((resolve) => {
    const onMessage = (msg: dbus.Message) => {
      if (msg.member === 'NameOwnerChanged' && msg.body[0] === name && msg.body[2] !== '') {
        watcher.removeListener('message', onMessage);
        resolve(process.hrtime.bigint());
      }
    };
    watcher.on('message', onMessage);
  });
}

function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return kb / 1024;
}

function stopped(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }
  });
}

/** Spawn → name owned (ms), then RSS after 2 s idle (MiB). */
async function measureService(name: string, args: string[]): Promise<{ ms: number; rss: number }> {
  const owned = nameOwned(name);
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, VMEDIA_LOG_LEVEL: 'warn' },
  });
  const failed = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`))),
  );
  const at = await Promise.race([owned, failed]);
  await new Promise((r) => setTimeout(r, 2000));
  const rss = rssMiB(child.pid!);
  child.removeAllListeners('exit');
  await stopped(child);
  return { ms: Number(at - started) / 1e6, rss };
}

async function measureBareNode(): Promise<{ ms: number; rss: number }> {
  const started = process.hrtime.bigint();
  await run(process.execPath, ['-e', '0']);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const idle = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 2000));
  const rss = rssMiB(idle.pid!);
  await stopped(idle);
  return { ms, rss };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// the compiled daemon, as `npm start` builds it (tsc emits even if a part in progress has type
// errors); inside the checkout so that it finds node_modules
const dist = path.join(REPO, 'bench/out/daemon-dist');
await run('npx', ['tsc', '-p', 'tsconfig.json', '--outDir', dist], { cwd: REPO }).catch(() => undefined);
const runtimeDir = path.join(work, 'run');
mkdirSync(runtimeDir);
const config = path.join(work, 'virtual-media.json');
const dev = JSON.parse(readFileSync(path.join(REPO, 'config/dev.json'), 'utf8'));
writeFileSync(config, JSON.stringify({ ...dev, RuntimeDir: runtimeDir }));
const daemonArgs = ['daemon', '--config', config, '--bus', bus.address];
const floorScript = `require('dbus-next').sessionBus({ busAddress: ${JSON.stringify(bus.address)} }).requestName('org.vmedia.BenchFloor', 4)`;

const rows: Record<string, { ms: number[]; rss: number[] }> = {
  'bare node -e': { ms: [], rss: [] },
  'node -e + dbus-next name': { ms: [], rss: [] },
  'daemon (tsc build)': { ms: [], rss: [] },
  'daemon (tsx, from source)': { ms: [], rss: [] },
};
for (let i = 0; i < runs; i++) {
  const results = [
    await measureBareNode(),
    await measureService('org.vmedia.BenchFloor', ['-e', floorScript]),
    await measureService(BUS_NAME, [path.join(dist, 'cli/main.js'), ...daemonArgs]),
    await measureService(BUS_NAME, ['--import', 'tsx', path.join(REPO, 'src/cli/main.ts'), ...daemonArgs]),
  ];
  Object.values(rows).forEach((row, k) => {
    row.ms.push(results[k]!.ms);
    row.rss.push(results[k]!.rss);
  });
}
watcher.disconnect();
await bus.stop();
rmSync(work, { recursive: true, force: true });
rmSync(dist, { recursive: true, force: true });

const bare = rows['bare node -e']!;
const floor = rows['node -e + dbus-next name']!;
const report = Object.entries(rows).map(([what, r]) => ({
  what,
  startupMs: Math.round(median(r.ms)),
  startupVsBareNode: +(median(r.ms) / median(bare.ms)).toFixed(2),
  startupVsDbusFloor: +(median(r.ms) / median(floor.ms)).toFixed(2),
  idleRssMiB: +median(r.rss).toFixed(1),
  rssVsBareNode: +(median(r.rss) / median(bare.rss)).toFixed(2),
  rssVsDbusFloor: +(median(r.rss) / median(floor.rss)).toFixed(2),
}));
console.table(report);
mkdirSync(path.join(REPO, 'bench/out'), { recursive: true });
writeFileSync(path.join(REPO, 'bench/out/daemon.json'), JSON.stringify({ runs, report }, null, 2));
