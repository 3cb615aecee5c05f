// Benchmark: our NBD server (`vmedia nbd serve`) against `nbdkit file` on the same 1 GiB file.
//   npx tsx bench/nbd-server/run.ts [--size-mib N] [--rounds R]
// Measures nbdcopy read throughput with 1 and 4 connections and the mean latency of 4 KiB
// sequential reads (nbdsh, one synchronous read at a time), prints each figure and the ratio
// to nbdkit. Targets: throughput >= 0.9x nbdkit, latency <= 1.5x. The file is read once first
// so both servers read from the page cache: the figures compare the servers, not the disk.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import {
  debianPathEnv,
  makeTempDir,
  nbdsh,
  sha256File,
  startNbdkit,
  startOurServer,
  writeRandomFile,
  type Child,
} from '../../test/nbd/helpers.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: { 'size-mib': { type: 'string', default: '1024' }, rounds: { type: 'string', default: '3' } },
});
const sizeBytes = Number(values['size-mib']) * 1024 * 1024;
const rounds = Number(values.rounds);
const LATENCY_READS = 20_000;

async function copyMBps(uri: string, connections: number): Promise<number> {
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const t = process.hrtime.bigint();
    await run('nbdcopy', [`--connections=${connections}`, uri, 'null:']);
    const seconds = Number(process.hrtime.bigint() - t) / 1e9;
    best = Math.max(best, sizeBytes / 1e6 / seconds);
  }
  return best;
}

async function latencyMicros(uri: string, dir: string): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const out = await nbdsh(
      uri,
      `
import time
n = ${LATENCY_READS}
t = time.perf_counter()
for i in range(n):
    h.pread(4096, i * 4096)
print((time.perf_counter() - t) / n * 1e6)
`,
      dir,
    );
    best = Math.min(best, Number(out.trim()));
  }
  return best;
}

async function measure(server: Child, dir: string): Promise<{ one: number; four: number; latency: number }> {
  return {
    one: await copyMBps(server.uri, 1),
    four: await copyMBps(server.uri, 4),
    latency: await latencyMicros(server.uri, dir),
  };
}

const tmp = makeTempDir('vmedia-bench-nbd-');
try {
  const file = path.join(tmp.dir, 'image.raw');
  console.log(`writing a ${sizeBytes / 1048576} MiB random file…`);
  await writeRandomFile(file, sizeBytes);
  await sha256File(file); // reads it once: page cache warm for both servers
  const ours = await startOurServer(file, tmp.dir, { readOnly: true });
  const kit = await startNbdkit(tmp.dir, ['file', file], ['--readonly']);
  let a: Awaited<ReturnType<typeof measure>>;
  let b: Awaited<ReturnType<typeof measure>>;
  try {
    // alternate so that neither server benefits from running second
    b = await measure(kit, tmp.dir);
    a = await measure(ours, tmp.dir);
  } finally {
    await ours.stop();
    await kit.stop();
  }
  const { stdout: kitVersion } = await run('nbdkit', ['--version'], { env: debianPathEnv });
  const row = (what: string, x: number, y: number, unit: string, target: string, ok: boolean) =>
    console.log(
      `${what.padEnd(34)} ours ${x.toFixed(1).padStart(8)} ${unit.padEnd(5)} nbdkit ${y.toFixed(1).padStart(8)} ${unit.padEnd(5)} ratio ${(x / y).toFixed(2)}x  (target ${target}: ${ok ? 'met' : 'MISSED'})`,
    );
  console.log(`\n${sizeBytes / 1048576} MiB file, best of ${rounds}; ${kitVersion.trim()}, node ${process.version}`);
  row('nbdcopy read, 1 connection', a.one, b.one, 'MB/s', '>= 0.9x', a.one / b.one >= 0.9);
  row('nbdcopy read, 4 connections', a.four, b.four, 'MB/s', '>= 0.9x', a.four / b.four >= 0.9);
  row('4 KiB sequential read latency', a.latency, b.latency, 'µs', '<= 1.5x', a.latency / b.latency <= 1.5);
} finally {
  tmp.remove();
}
