// What every bench/paths benchmark measures, in one place: the CPU seconds a process spends per
// GiB moved (from /proc/PID/stat: a process's utime/stime already sum its threads, and
// cutime/cstime add the children it reaped), its resident memory idle, at its peak during the
// transfer and some seconds after, and the transfer's MiB/s. CPU per byte is what a BMC's core
// (≈8× slower than this machine's, docs/performance.md) turns into throughput, and it is far less
// sensitive to the other load on a shared machine than MiB/s.
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { sha256File, startChild, writeRandomFile, type Child } from '../../test/nbd/helpers.js';

const run = promisify(execFile);
const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux architecture a BMC or CI uses
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** A BMC core against this machine's (docs/performance.md): the "BMC estimate" multiplies CPU by it. */
export const BMC_CPU_FACTOR = 8;

/** Whose CPU of a process counts: its own (all threads), the children it reaped, or both. */
export type CpuShare = 'own' | 'reaped children' | 'both';

const PAGE_BYTES = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }));

/** The fields of /proc/PID/stat after "(comm) " (state is [0]), or undefined once `pid` has exited. */
function statFields(pid: number): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** What one read of /proc/PID/stat says: CPU seconds (of `share`) and resident memory. */
interface ProcSample {
  cpuSeconds: number;
  rssMiB: number;
}

function procSample(pid: number, share: CpuShare = 'both'): ProcSample | undefined {
  const fields = statFields(pid);
  if (!fields) return undefined;
  // utime, stime, cutime, cstime are fields 14–17 → [11..14]; rss (pages, as VmRSS) is 24 → [21]
  const indices = { own: [11, 12], 'reaped children': [13, 14], both: [11, 12, 13, 14] }[share];
  return {
    cpuSeconds: indices.reduce((sum, i) => sum + Number(fields[i]), 0) / TICKS_PER_SECOND,
    rssMiB: (Number(fields[21]) * PAGE_BYTES) / MiB,
  };
}

/** Resident memory of `pid` in MiB (what VmRSS shows). */
export function rssMiB(pid: number): number {
  const sample = procSample(pid);
  if (!sample) throw new Error(`pid ${pid} has exited`);
  return sample.rssMiB;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A process whose CPU and memory a measurement follows. */
export interface Watched {
  /** What it is in the table ("vmedia nbd serve", "nbdkit", "daemon"). */
  name: string;
  pid: number;
  /** Whose CPU counts (default both: a server that forks its helpers, e.g. nbdkit curl's). */
  cpu?: CpuShare;
}

export interface ProcessFigures {
  name: string;
  cpuSecondsPerGiB: number;
  /** NaN where the process's memory is not known (a child counted through its parent). */
  rssMiB: { idle: number; peak: number; after: number };
}

/** One transfer through one path (or its reference). */
export interface Measurement {
  /** Path letter or name: "A", "B", "legacy", "C", "D". */
  path: string;
  /** What was measured: "vmedia nbd serve, 4 conns", "nbdkit file, 4 conns (reference)". */
  variant: string;
  /** The variant this one is compared with (its `variant`), if any. */
  reference?: string;
  mibPerSecond: number;
  processes: ProcessFigures[];
}

export interface TransferOptions {
  path: string;
  variant: string;
  reference?: string;
  /** Bytes the transfer moves (the image size): CPU is divided by it. */
  bytes: number;
  watched: Watched[];
  transfer: () => Promise<void>;
  /** How long after the transfer "after" RSS is read (default 5 s: idle timers, GC). */
  settleMs?: number;
}

/**
 * Runs `transfer` once while following `watched`: CPU over the transfer only, RSS sampled every
 * 20 ms for the peak (a process's VmHWM cannot be reset without privileges), and read again
 * `settleMs` after. One read of /proc/PID/stat per process and sample (the sampler's own CPU is
 * on the same cores as the path). A process that exits on the way (a browser's helper) keeps the
 * CPU of its last sample and holds nothing after.
 */
export async function measureTransfer(opts: TransferOptions): Promise<Measurement> {
  const first = opts.watched.map((w) => {
    const s = procSample(w.pid, w.cpu);
    if (!s) throw new Error(`${w.name} (pid ${w.pid}) exited before the transfer`);
    return s;
  });
  const last = [...first];
  const peak = first.map((s) => s.rssMiB);
  const sample = () =>
    opts.watched.forEach((w, i) => {
      const s = procSample(w.pid, w.cpu);
      if (!s) return;
      last[i] = s;
      peak[i] = Math.max(peak[i]!, s.rssMiB);
    });
  const sampler = setInterval(sample, 20);
  const started = process.hrtime.bigint();
  try {
    await opts.transfer();
  } finally {
    clearInterval(sampler);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  sample();
  const cpu = last.map((s, i) => s.cpuSeconds - first[i]!.cpuSeconds);
  await sleep(opts.settleMs ?? 5000);
  const after = opts.watched.map((w) => procSample(w.pid)?.rssMiB ?? 0);
  const idle = first.map((s) => s.rssMiB);
  // reaped children's CPU is counted, but their memory is not this pid's: no RSS for such a row
  const holdsMemory = (i: number) => opts.watched[i]!.cpu !== 'reaped children';
  return {
    path: opts.path,
    variant: opts.variant,
    ...(opts.reference ? { reference: opts.reference } : {}),
    mibPerSecond: opts.bytes / MiB / seconds,
    processes: opts.watched.map((w, i) => ({
      name: w.name,
      cpuSecondsPerGiB: (cpu[i]! * GiB) / opts.bytes,
      rssMiB: holdsMemory(i)
        ? { idle: idle[i]!, peak: peak[i]!, after: after[i]! }
        : { idle: NaN, peak: NaN, after: NaN },
    })),
  };
}

/** How a consumer reads an export with nbdcopy: `requests` of `requestBytes` in flight per connection. */
export interface NbdcopyReads {
  label: string;
  connections: number;
  requests: number;
  requestBytes: number;
}

/** nbdcopy's own defaults over 4 connections, as paths A–C and `nbdkit curl alone` are read. */
export const NBDCOPY_DEFAULT_READS: NbdcopyReads = {
  label: 'nbdcopy 4 conns × 64 requests',
  connections: 4,
  requests: 64,
  requestBytes: 256 * 1024,
};

/**
 * As the kernel backend reads a slot in production: one nbd-client connection, and /dev/nbdN's
 * read-ahead of 4 MiB in 1 MiB requests (NbdQueue's defaults) keeps about four in flight.
 */
export const KERNEL_READS: NbdcopyReads = {
  label: 'nbdcopy 1 conn × 4 requests of 1 MiB',
  connections: 1,
  requests: 4,
  requestBytes: 1024 * 1024,
};

/** As the kernel read with its own queue settings (read-ahead 128 KiB, requests of at most 128 KiB). */
export const KERNEL_READS_UNTUNED: NbdcopyReads = {
  label: 'nbdcopy 1 conn × 2 requests of 128 KiB',
  connections: 1,
  requests: 2,
  requestBytes: 128 * 1024,
};

/**
 * Reads a whole NBD export with nbdcopy into null: (the consumer of every path), `requests` of
 * `requestBytes` in flight per connection (nbdcopy's defaults: 64 of 256 KiB).
 */
export async function nbdcopyToNull(
  uri: string,
  connections: number,
  requests = NBDCOPY_DEFAULT_READS.requests,
  requestBytes = NBDCOPY_DEFAULT_READS.requestBytes,
): Promise<void> {
  const args = [`--connections=${connections}`, `--requests=${requests}`, `--request-size=${requestBytes}`];
  await run('nbdcopy', [...args, uri, 'null:'], {
    env: { ...process.env, PATH: `/usr/bin:${process.env.PATH}` },
  });
}

/** The median of each figure over repeated measurements of the same variant (rounds ≥ 1). */
export function medianOf(rounds: readonly Measurement[]): Measurement {
  const first = rounds[0];
  if (!first) throw new Error('medianOf: no rounds');
  const med = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  return {
    ...first,
    mibPerSecond: med(rounds.map((r) => r.mibPerSecond)),
    processes: first.processes.map((p, i) => ({
      name: p.name,
      cpuSecondsPerGiB: med(rounds.map((r) => r.processes[i]!.cpuSecondsPerGiB)),
      rssMiB: {
        idle: med(rounds.map((r) => r.processes[i]!.rssMiB.idle)),
        peak: Math.max(...rounds.map((r) => r.processes[i]!.rssMiB.peak)),
        after: med(rounds.map((r) => r.processes[i]!.rssMiB.after)),
      },
    })),
  };
}

/** The range (min–max) of MiB/s over repeated rounds, for the report. */
export function rangeOf(rounds: readonly Measurement[]): string {
  const xs = rounds.map((r) => r.mibPerSecond);
  return `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
}

/** Measures `variants` `rounds` times, interleaved (no variant always runs first or on a quieter machine). */
export async function interleaved(
  rounds: number,
  variants: ReadonlyArray<() => Promise<Measurement>>,
): Promise<Array<{ median: Measurement; range: string }>> {
  const all: Measurement[][] = variants.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? variants.map((_, i) => i) : variants.map((_, i) => i).reverse();
    for (const i of order) all[i]!.push(await variants[i]!());
  }
  return all.map((ms) => ({ median: medianOf(ms), range: rangeOf(ms) }));
}

/** One line per process: MiB/s (range), ratio to the reference, CPU-s/GiB, its BMC estimate, RSS. */
export function formatTable(results: ReadonlyArray<{ median: Measurement; range: string }>): string {
  const byVariant = new Map(results.map((r) => [r.median.variant, r.median]));
  const header = [
    'path',
    'variant',
    'MiB/s (range)',
    'ratio',
    'process',
    'CPU-s/GiB',
    `BMC CPU-s/GiB (×${BMC_CPU_FACTOR})`,
    'BMC MiB/s',
    'RSS idle/peak/after MiB',
  ];
  const rows = results.flatMap(({ median: m, range }) => {
    const ref = m.reference ? byVariant.get(m.reference) : undefined;
    const ratio = ref ? `${(m.mibPerSecond / ref.mibPerSecond).toFixed(2)}×` : '';
    return m.processes.map((p, k) => [
      k === 0 ? m.path : '',
      k === 0 ? m.variant : '',
      k === 0 ? `${m.mibPerSecond.toFixed(0)} (${range})` : '',
      k === 0 ? ratio : '',
      p.name,
      p.cpuSecondsPerGiB.toFixed(2),
      (p.cpuSecondsPerGiB * BMC_CPU_FACTOR).toFixed(1),
      // one BMC core spending this process's CPU per byte: the ceiling it puts on the path
      p.cpuSecondsPerGiB > 0 ? (1024 / (p.cpuSecondsPerGiB * BMC_CPU_FACTOR)).toFixed(0) : '',
      // NaN: not known (a consumer counted through its parent, a sum over such a row)
      Number.isNaN(p.rssMiB.peak)
        ? ''
        : `${p.rssMiB.idle.toFixed(0)}/${p.rssMiB.peak.toFixed(0)}/${p.rssMiB.after.toFixed(0)}`,
    ]);
  });
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/** What run.ts gives each path's module. */
export interface PathContext {
  /** A temporary directory of its own, removed after the path ran. */
  dir: string;
  /** Size of the image each transfer moves. */
  sizeMiB: number;
  /** Measurements per variant (interleaved; the table shows medians and the MiB/s range). */
  rounds: number;
  /** A line printed under the table (a figure that is no transfer, e.g. a daemon's RSS at start). */
  note: (line: string) => void;
  /**
   * Other builds' cli/main.mjs (`scripts/bundle.ts --out DIR` from another commit), each measured
   * as a variant of its own in the same run (run.ts `--against`), for the paths that take them.
   */
  against: string[];
}

/** A path's module (bench/paths/<file>.ts) default-exports one of these; run.ts lists the files. */
export interface PathBenchmark {
  /** One line for the report: what is measured against what. */
  title: string;
  run(ctx: PathContext): Promise<Array<{ median: Measurement; range: string }>>;
  /** Whether run() measures ctx.against. */
  takesAgainst?: boolean;
}

const REPO = path.resolve(import.meta.dirname, '../..');
let bundled: Promise<string> | undefined;

/**
 * A random image of `bytes` at `dir`/image.raw, read once so it is in the page cache: every
 * variant reads it at the same cost, and the figures compare the paths, not the disk.
 */
export async function cachedRandomImage(dir: string, bytes: number): Promise<string> {
  const file = path.join(dir, 'image.raw');
  await writeRandomFile(file, bytes);
  await sha256File(file);
  return file;
}

/**
 * The production bundle (scripts/bundle.ts), what a BMC runs: measured memory is the memory a BMC
 * sees (src/ run under tsx, or as separate modules, holds more). Built once per run (26 s) into a
 * directory of this run's own, removed when it exits: a second benchmark run at the same time
 * would otherwise rebuild the chunks under a running daemon, whose lazy imports then fail.
 * Returns its cli/main.mjs.
 */
export function compiledCli(): Promise<string> {
  bundled ??= (async () => {
    const out = path.join(REPO, `bench/out/paths-bundle-${process.pid}`);
    process.once('exit', () => rmSync(out, { recursive: true, force: true }));
    await run('npx', ['tsx', 'scripts/bundle.ts', '--out', out], { cwd: REPO });
    return path.join(out, 'dist/cli/main.mjs');
  })();
  return bundled;
}

/** `vmedia nbd serve FILE --readonly` of the compiled bundle `cli`, on a unix socket in dir. */
export function serveOurs(cli: string, file: string, dir: string): Promise<Child> {
  const socket = path.join(dir, `ours-${Math.random().toString(36).slice(2)}.sock`);
  return startChild(
    process.execPath,
    [cli, 'nbd', 'serve', file, '--socket', socket, '--readonly'],
    socket,
    'vmedia nbd serve',
  );
}
