// What the daemon and the web hold, measured the same way before and after a run: open fds,
// child processes, files in the runtime dirs, resident memory and the V8 heap after a forced GC.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import type { Fixture } from './fixture.js';
import type { Inspector } from './inspector.js';
import { childrenOf, descendantsOf, fdCount, rssBytes } from './proc.js';

export interface ProcessSample {
  fds: number;
  rss: number;
  /** Live V8 heap after a full GC. */
  heap: number;
  /** Memory outside the heap held by live JS objects (Buffers, ArrayBuffers) after that GC. */
  external: number;
}

export interface Sample {
  daemon: ProcessSample;
  web: ProcessSample;
}

export interface Snapshot extends Sample {
  /** Every entry under the runtime dirs ("run/export/", "run/sources/capath/abcd.0", sockets "=" suffixed). */
  files: string[];
  /** Command names of the direct children ("esbuild": tsx's transform service). */
  daemonChildren: string[];
  webChildren: string[];
  /** Pids of nbdkit processes anywhere below the daemon. */
  nbdkit: number[];
}

async function processSample(pid: number, inspector: Inspector): Promise<ProcessSample> {
  // the GC first: it also lets go of memory that would otherwise count in RSS
  const memory = await inspector.memoryAfterGc();
  return { fds: fdCount(pid), rss: rssBytes(pid), ...memory };
}

export async function sample(fx: Fixture): Promise<Sample> {
  return {
    daemon: await processSample(fx.stack.daemon.pid, fx.daemon),
    web: await processSample(fx.stack.webPid, fx.web),
  };
}

export async function snapshot(fx: Fixture): Promise<Snapshot> {
  const daemonPid = fx.stack.daemon.pid;
  return {
    ...(await sample(fx)),
    files: fx.runtimeDirs.flatMap((d) => listTree(d, path.basename(d))),
    daemonChildren: childNames(daemonPid),
    webChildren: childNames(fx.stack.webPid),
    nbdkit: descendantsOf(daemonPid)
      .filter((p) => p.name === 'nbdkit')
      .map((p) => p.pid),
  };
}

function childNames(pid: number): string[] {
  return childrenOf(pid)
    .map((c) => c.name)
    .sort();
}

/** Relative paths of everything under `dir`, sorted; directories end in "/", sockets in "=". */
export function listTree(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const rel = path.join(prefix, entry.name);
    if (entry.isDirectory()) out.push(`${rel}/`, ...listTree(path.join(dir, entry.name), rel));
    else out.push(entry.isSocket() ? `${rel}=` : rel);
  }
  return out.sort();
}

/** Least-squares slope of ys over their index: growth per step. */
export function slope(ys: readonly number[]): number {
  const n = ys.length;
  if (n < 2) return 0;
  const meanX = (n - 1) / 2;
  const meanY = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => {
    num += (x - meanX) * (y - meanY);
    den += (x - meanX) ** 2;
  });
  return num / den;
}

export const MiB = 1024 * 1024;
export const KiB = 1024;
