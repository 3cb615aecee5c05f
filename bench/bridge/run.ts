// Benchmark of the WebSocket ⇄ Unix socket bridge (a script, not a test):
//  1. throughput of the same transfer (SIZE bytes, WebSocket client → relay → Unix socket sink)
//     through our relay (src/web/bridge/splice.ts), websockify (python3-websockify) and a plain
//     socat TCP → Unix relay; reported as MiB/s and ratios, with each relay's peak RSS.
//  2. memory of the real `vmedia web` process (whole stack, NBD over the bridge, nbdcopy reading
//     the export) while the consumer stalls for 10 s mid-transfer (SIGSTOP): peak RSS growth.
//   node --import tsx bench/bridge/run.ts
// Environment: BENCH_MIB (512) and BENCH_RUNS (3) for part 1; BENCH_SKIP_THROUGHPUT /
// BENCH_SKIP_MEMORY to run one part; BENCH_WEB_ENV="K=V ..." extra environment for the web.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { startStack } from '../../test/helpers/stack.js';
import { basicAuth, connectWsNbdServer } from '../../test/web/ws-nbd-server.js';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_MIB ?? 512) * MiB;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const FRAME = 256 * 1024;
const RELAY = fileURLToPath(new URL('./relay.ts', import.meta.url));
const SINK = fileURLToPath(new URL('./sink.ts', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-bench-'));
const payload = randomBytes(4 * MiB);

function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((r) => child.once('exit', (c) => r(c)));
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function waitConnectable(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((r) => {
      const c = connect(port, '127.0.0.1', () => {
        c.destroy();
        r(true);
      });
      c.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** The consumer (sink.ts): resolves `listening` once it accepts, `done` with the bytes received. */
function startSink(sockPath: string): { listening: Promise<void>; done: Promise<number> } {
  const sink = spawn(process.execPath, ['--import', 'tsx', SINK, sockPath, String(SIZE)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  let onListening!: () => void;
  const listening = new Promise<void>((r) => {
    onListening = r;
  });
  sink.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.includes('listening')) onListening();
  });
  return { listening, done: exitOf(sink).then(() => Number(/done (\d+)/.exec(out)?.[1] ?? 0)) };
}

/** Sends SIZE bytes as binary frames, keeping at most 8 MiB buffered. */
async function wsSource(url: string, sinkDone: Promise<number>): Promise<void> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let sent = 0;
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (sent < SIZE && ws.bufferedAmount < 8 * MiB) {
        const off = sent % payload.length;
        ws.send(payload.subarray(off, off + FRAME));
        sent += FRAME;
      }
      if (sent < SIZE) setTimeout(pump, 1);
      else resolve();
    };
    pump();
  });
  await sinkDone;
  ws.close();
}

/** Sends SIZE bytes over plain TCP (the socat relay has no WebSocket). */
async function tcpSource(port: number, sinkDone: Promise<number>): Promise<void> {
  const sock = connect(port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  for (let sent = 0; sent < SIZE; sent += FRAME) {
    const off = sent % payload.length;
    if (!sock.write(payload.subarray(off, off + FRAME))) await new Promise((r) => sock.once('drain', r));
  }
  await sinkDone;
  sock.end();
}

interface RelayRun {
  mibps: number;
  peakRssMiB: number;
  idleRssMiB: number;
  cpuSecondsPerGiB: number;
}

/**
 * User + system CPU seconds of a process and its reaped children (websockify and socat fork a
 * child per connection): robust to other load on the machine, unlike throughput.
 */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /s, '')
    .split(' ');
  return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0) / 100;
}

async function measure(
  name: string,
  startRelay: (port: number, target: string) => ChildProcess,
  source: (port: number, sinkDone: Promise<number>) => Promise<void>,
): Promise<RelayRun> {
  const target = path.join(dir, `${name}.sock`);
  const sink = startSink(target);
  await sink.listening;
  const port = await freePort();
  const relay = startRelay(port, target);
  await waitConnectable(port);
  const idleRssMiB = statusKiB(relay.pid!, 'VmRSS') / 1024;
  const cpuBefore = cpuSeconds(relay.pid!);
  const started = process.hrtime.bigint();
  await source(port, sink.done);
  const received = await sink.done;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await new Promise((r) => setTimeout(r, 500)); // the per-connection child exits and is reaped
  const peakRssMiB = statusKiB(relay.pid!, 'VmHWM') / 1024;
  const cpuSecondsPerGiB = (cpuSeconds(relay.pid!) - cpuBefore) / (SIZE / 1024 / MiB);
  relay.kill('SIGTERM');
  await exitOf(relay);
  if (received < SIZE) throw new Error(`${name}: sink got ${received} of ${SIZE} bytes`);
  return { mibps: SIZE / MiB / seconds, peakRssMiB, idleRssMiB, cpuSecondsPerGiB };
}

const relays = {
  vmedia: {
    start: (port: number, target: string) =>
      spawn(process.execPath, ['--import', 'tsx', RELAY, String(port), target], { stdio: 'ignore' }),
    source: (port: number, done: Promise<number>) => wsSource(`ws://127.0.0.1:${port}/`, done),
  },
  websockify: {
    start: (port: number, target: string) =>
      spawn('/usr/bin/websockify', [`--unix-target=${target}`, `127.0.0.1:${port}`], {
        stdio: 'ignore',
        env: { ...process.env, PATH: `/usr/bin:${process.env.PATH}` },
      }),
    source: (port: number, done: Promise<number>) => wsSource(`ws://127.0.0.1:${port}/`, done),
  },
  socat: {
    start: (port: number, target: string) =>
      spawn('socat', [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, `UNIX-CONNECT:${target}`], {
        stdio: 'ignore',
      }),
    source: (port: number, done: Promise<number>) => tcpSource(port, done),
  },
};

async function throughput(): Promise<void> {
  process.stdout.write(
    `\n1. throughput: ${SIZE / MiB} MiB, WebSocket client → relay → Unix socket sink, best of ${RUNS}\n`,
  );
  const best: Record<string, RelayRun> = {};
  for (const [name, r] of Object.entries(relays)) {
    for (let i = 0; i < RUNS; i++) {
      const got = await measure(name, r.start, r.source);
      if (!best[name] || got.mibps > best[name].mibps) best[name] = got;
    }
    process.stdout.write(
      `   ${name.padEnd(10)} ${best[name]!.mibps.toFixed(0).padStart(6)} MiB/s   relay CPU ${best[name]!.cpuSecondsPerGiB.toFixed(2)} s/GiB   peak RSS ${best[name]!.peakRssMiB.toFixed(0)} MiB (idle ${best[name]!.idleRssMiB.toFixed(0)} MiB)\n`,
    );
  }
  const ours = best.vmedia!.mibps;
  process.stdout.write(`   vmedia / websockify = ${(ours / best.websockify!.mibps).toFixed(2)}x (target >= 2)\n`);
  process.stdout.write(`   vmedia / socat      = ${(ours / best.socat!.mibps).toFixed(2)}x (target >= 0.7)\n`);
}

async function stalledConsumer(): Promise<void> {
  const imageMiB = 512;
  process.stdout.write(
    `\n2. memory of vmedia web: NBD over /nbd/0 (${imageMiB} MiB image), nbdcopy from the export stalled 10 s mid-transfer\n`,
  );
  const image = path.join(dir, 'image.img');
  await exitOf(spawn('sh', ['-c', `head -c ${imageMiB * MiB} /dev/urandom > ${image}`], { stdio: 'inherit' }));
  // BENCH_WEB_ENV="K=V ...": extra environment for the web process (allocator or V8 experiments)
  const webEnv = Object.fromEntries(
    (process.env.BENCH_WEB_ENV ?? '')
      .split(' ')
      .filter(Boolean)
      .map((kv) => kv.split(/=(.*)/s).slice(0, 2)),
  );
  const stack = await startStack({ webEnv });
  try {
    const mount = async () => {
      const browser = await connectWsNbdServer(`wss://127.0.0.1:${stack.port}/nbd/0`, {
        ca: stack.ca,
        image,
        headers: basicAuth(stack.admin.user, stack.admin.password),
      });
      for (
        let i = 0;
        i < 100 &&
        !(await stack.request('/redfish/v1/Managers/bmc/VirtualMedia/Slot_0', { auth: stack.admin })).json.Inserted;
        i++
      ) {
        await new Promise((r) => setTimeout(r, 100));
      }
      return browser;
    };
    // warm-up (JIT, lazily loaded code, TLS, V8 heap and allocator pools): 64 MiB, then unmount
    await stack.request('/redfish/v1/Managers/bmc/VirtualMedia/Slot_0', { auth: stack.admin });
    const cold = statusKiB(stack.webPid, 'VmRSS');
    const warm = await mount();
    await exitOf(
      spawn(
        'sh',
        [
          '-c',
          `nbdcopy 'nbd+unix:///?socket=${stack.slots[0]!.exportSocket}' - 2>/dev/null | head -c ${64 * MiB} > /dev/null`,
        ],
        { stdio: 'inherit' },
      ),
    );
    warm.ws.close();
    await warm.ended;
    await new Promise((r) => setTimeout(r, 2000));
    const baseline = statusKiB(stack.webPid, 'VmRSS');
    const browser = await mount();
    let peak = baseline;
    let stallPeak = 0;
    let stalled = false;
    const sampler = setInterval(() => {
      const rss = statusKiB(stack.webPid, 'VmRSS');
      peak = Math.max(peak, rss);
      if (stalled) stallPeak = Math.max(stallPeak, rss);
    }, 50);
    const copy = spawn(
      'sh',
      ['-c', `exec nbdcopy 'nbd+unix:///?socket=${stack.slots[0]!.exportSocket}' - > /dev/null`],
      { stdio: 'inherit' },
    );
    await new Promise((r) => setTimeout(r, 3000));
    copy.kill('SIGSTOP');
    const atStall = statusKiB(stack.webPid, 'VmRSS');
    stalled = true;
    await new Promise((r) => setTimeout(r, 10_000));
    stalled = false;
    copy.kill('SIGCONT');
    const code = await exitOf(copy);
    clearInterval(sampler);
    browser.ws.close();
    await browser.ended;
    const mib = (k: number) => (k / 1024).toFixed(1);
    process.stdout.write(
      `   web RSS: cold ${mib(cold)} MiB; the first (warm-up) transfer grows it once by ${mib(baseline - cold)} MiB\n`,
    );
    process.stdout.write(
      `   web RSS: idle after the warm-up ${mib(baseline)} MiB, when the stall began ${mib(atStall)} MiB, peak while stalled ${mib(stallPeak)} MiB, peak overall ${mib(peak)} MiB\n`,
    );
    process.stdout.write(
      `   growth while stalled: ${mib(stallPeak - atStall)} MiB; peak over idle for this slot's transfer: ${mib(peak - baseline)} MiB (target < 16 MiB per slot); nbdcopy exit ${code}\n`,
    );
  } finally {
    await stack.stop();
  }
}

try {
  if (!process.env.BENCH_SKIP_THROUGHPUT) await throughput();
  if (!process.env.BENCH_SKIP_MEMORY) await stalledConsumer();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
