// Benchmark of the Legacy HTTPS chain (a script, not a test):
//   node --import tsx bench/legacy-https/run.ts [--size-mib 1024] [--latency-ms 20] [--mounts 20]
//        [--readahead off] [--cache-kib N]
// Read throughput of an image served by a local HTTPS server (Node, Range support) through
//   chain    the daemon's Legacy slot: nbdkit curl + filters, our read-ahead, export backend,
//            read by nbdcopy on the ExportSocket
//   source   the slot socket read by nbdcopy directly (no export re-serve)
//   kernel   the slot socket read the way the kernel's nbd client reads it on a BMC (128 KiB
//            requests, 2 in flight: sequential-read.py; nbd-client connects to the slot socket)
//   plain    `nbdkit curl` without filters, read with nbdcopy
//   curl     `curl` downloading the file
// once without and once with added latency per HTTP request (the server waits before answering:
// `tc netem` needs privileges over the loopback device that tests must not take), as ratios
// against the curl download. Each path reads a fresh Mount (nothing cached from the one before).
// Then Mount latency: Mount call → Completion(0), median of N.
// --readahead off / --cache-kib N: the daemon without our read-ahead / with nbdkit's cache
// filter and that block size (the chain before the read-ahead: --readahead off --cache-kib 4096).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startTestBus } from '../../test/helpers/private-bus.js';
import { exportBackendSlot, startDaemon } from '../../test/helpers/daemon.js';
import { startHttpsImages } from '../../test/helpers/https-images.js';
import { legacyClient } from '../../test/sources/helpers/legacy-client.js';
import { randomImage } from '../../test/sources/helpers/provider.js';

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    'latency-ms': { type: 'string', default: '20' },
    mounts: { type: 'string', default: '20' },
    // Sources.Cache: nbdkit's cache filter with this block size (default: off)
    'cache-kib': { type: 'string' },
    readahead: { type: 'string', default: 'on' },
  },
});
const sizeMib = Number(values['size-mib']);
const latencies = [0, Number(values['latency-ms'])];
const mounts = Number(values.mounts);

function timed(cmd: string, args: string[]): Promise<number> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 1024 * 1024 }, (err, _out, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${stderr}`));
      else resolve(Number(process.hrtime.bigint() - started) / 1e9);
    });
  });
}

const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-bench-'));
const image = path.join(dir, 'disk.img');
console.log(`writing a ${sizeMib} MiB random image…`);
await randomImage(image, sizeMib);
const { ca, trustStore, server } = await startHttpsImages(dir, { files: new Map([['/disk.img', image]]) });
const url = `${server.origin}/disk.img`;
const bus = await startTestBus();
const runtime = path.join(dir, 'run');
const daemon = await startDaemon({
  busAddress: bus.address,
  config: {
    HostBackend: 'export',
    AllowPrivateSourceHosts: true,
    TrustStore: trustStore,
    RuntimeDir: runtime,
    Sources: {
      Readahead: { Enabled: values.readahead !== 'off' },
      ...(values['cache-kib'] ? { Cache: { Enabled: true, BlockSizeKiB: Number(values['cache-kib']) } } : {}),
    },
    MountPoints: { Slot_2: exportBackendSlot('Legacy', 2) },
  },
  env: { VMEDIA_LOG_LEVEL: 'warn' },
});
const slot = await legacyClient(bus.address, 'Slot_2');
const mbps = (seconds: number) => sizeMib / seconds;
const uri = (socket: string) => `nbd+unix:///?socket=${path.join(runtime, socket)}`;

/** Runs `read` on a fresh Mount of the image. */
async function mounted<T>(read: () => Promise<T>): Promise<T> {
  if ((await slot.mount(url)) !== 0) throw new Error(`Mount failed:\n${daemon.output().slice(-2000)}`);
  const result = await read().finally(async () => {
    if ((await slot.unmount()) !== 0) throw new Error('Unmount failed');
  });
  return result;
}

/** MiB/s of sequential-read.py (128 KiB requests, 2 in flight) over the whole export. */
function sequentialRead(nbdUri: string): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/python3', [path.join(import.meta.dirname, 'sequential-read.py'), nbdUri], (err, out, stderr) => {
      if (err) reject(new Error(`sequential-read.py failed: ${stderr}`));
      else resolve(Number(out.trim()));
    });
  });
}

/** The daemon's resident memory now, or its peak (VmHWM), in MiB. */
function daemonMib(field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${daemon.pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${field}:`));
  return Number(line?.match(/(\d+) kB/)?.[1] ?? NaN) / 1024;
}

try {
  const idleRss = daemonMib('VmRSS');
  const rows: string[] = [];
  for (const latency of latencies) {
    server.switches.latencyMs = latency;
    const curl = mbps(await timed('curl', ['-sS', '-o', '/dev/null', '--cacert', ca.caCertFile, url]));
    const plain = mbps(
      await timed('nbdkit', [
        '-U',
        '-',
        'curl',
        `url=${url}`,
        `cainfo=${ca.caCertFile}`,
        '--run',
        'nbdcopy $uri null:',
      ]),
    );
    const source = mbps(await mounted(() => timed('nbdcopy', [uri('nbd2.sock'), 'null:'])));
    const chain = mbps(await mounted(() => timed('nbdcopy', [uri('export/Slot_2.sock'), 'null:'])));
    const kernel = await mounted(() => sequentialRead(uri('nbd2.sock')));
    const ratio = (x: number) => `${x.toFixed(0)} MiB/s (${(x / curl).toFixed(2)} of curl)`;
    rows.push(
      `latency ${latency} ms per request:`,
      `  curl download                  ${curl.toFixed(0)} MiB/s`,
      `  nbdkit curl, plain             ${ratio(plain)}`,
      `  our slot socket, nbdcopy       ${ratio(source)}`,
      `  our slot socket, kernel reads  ${ratio(kernel)}`,
      `  our chain (export), nbdcopy    ${ratio(chain)}`,
    );
  }
  server.switches.latencyMs = 0;
  const mountMs: number[] = [];
  for (let i = 0; i < mounts; i++) {
    const started = process.hrtime.bigint();
    if ((await slot.mount(url)) !== 0) throw new Error('Mount failed');
    mountMs.push(Number(process.hrtime.bigint() - started) / 1e6);
    if ((await slot.unmount()) !== 0) throw new Error('Unmount failed');
  }
  mountMs.sort((a, b) => a - b);
  rows.push(
    `daemon memory: ${idleRss.toFixed(0)} MiB resident idle, peak ${daemonMib('VmHWM').toFixed(0)} MiB over all the reads`,
  );
  rows.push(
    `Mount → Completion(0): median ${mountMs[Math.floor(mounts / 2)]!.toFixed(0)} ms of ${mounts} (min ${mountMs[0]!.toFixed(0)}, max ${mountMs[mounts - 1]!.toFixed(0)})`,
  );
  console.log(`\n${sizeMib} MiB image over HTTPS on loopback\n${rows.join('\n')}`);
} finally {
  slot.close();
  await daemon.stop();
  await bus.stop();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
}
