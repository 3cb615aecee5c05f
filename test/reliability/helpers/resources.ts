// What the daemon and the web hold, measured the same way before and after a run: open fds,
// child processes, files in the runtime dirs, resident memory and the V8 heap after a forced GC.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { waitFor } from '../../helpers/wait.js';
import type { Fixture } from './fixture.js';
import type { Inspector } from './inspector.js';
import { allPids, childrenOf, fdCount, processInfo, rssBytes } from './proc.js';

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

/** What the service holds when no slot is in use: checked against a baseline after a run or a fault. */
export interface Rest {
  /** Every entry under the runtime dirs ("run/export/", "run/sources/capath/current", sockets "=" suffixed). */
  files: string[];
  /** Command names of the direct children, without tsx's transform service ("esbuild"): it runs
   *  only when a module is not yet in tsx's disk cache, so a restarted process may have none. */
  daemonChildren: string[];
  webChildren: string[];
  /** Pids of nbdkit processes serving from the stack's dir, wherever they are (an orphan too). */
  nbdkit: number[];
  daemonFds: number;
  webFds: number;
}

export interface Snapshot extends Sample, Rest {}

/** The daemon and the web to look at: the stack's, or ones started in their place. */
export interface Pids {
  daemon: number;
  web: number;
}

export function atRest(fx: Fixture, pids: Pids = { daemon: fx.stack.daemon.pid, web: fx.stack.webPid }): Rest {
  return {
    files: fx.runtimeDirs.flatMap((d) => listTree(d, path.basename(d))),
    daemonChildren: childNames(pids.daemon),
    webChildren: childNames(pids.web),
    nbdkit: nbdkitServing(fx.stack.dir),
    daemonFds: fdCount(pids.daemon),
    webFds: fdCount(pids.web),
  };
}

/** Descriptors opened lazily (a log destination, a timer fd) may appear once; a leak is one or more per use. */
export const FD_TOLERANCE = 2;

/**
 * Nothing left over: no nbdkit, no file, no child, no descriptor that was not there at `base`.
 * Idle keep-alive connections of the tests' own HTTPS client are closed first (the web would
 * hold them for its keep-alive timeout); descriptors get a moment to follow.
 */
export async function assertBackAtRest(fx: Fixture, base: Rest, pids?: Pids): Promise<void> {
  https.globalAgent.destroy();
  const fdsSettled = () => {
    const now = atRest(fx, pids);
    return (
      Math.abs(now.daemonFds - base.daemonFds) <= FD_TOLERANCE && Math.abs(now.webFds - base.webFds) <= FD_TOLERANCE
    );
  };
  await waitFor(
    () => {
      const now = atRest(fx, pids);
      return `open fds back to the baseline (±${FD_TOLERANCE}): daemon ${base.daemonFds} → ${now.daemonFds}, web ${base.webFds} → ${now.webFds}`;
    },
    fdsSettled,
    { timeoutMs: 3000 },
  );
  const now = atRest(fx, pids);
  assert.deepEqual(now.nbdkit, [], 'nbdkit left running');
  assert.deepEqual(now.files, base.files, 'the runtime dirs hold what they held before');
  assert.deepEqual(now.daemonChildren, base.daemonChildren, "the daemon's children");
  assert.deepEqual(now.webChildren, base.webChildren, "the web's children");
}

async function processSample(pid: number, inspector: Inspector): Promise<ProcessSample> {
  // the GC first: it also lets go of memory that would otherwise count in RSS
  const memory = await inspector.memoryAfterGc();
  return { fds: fdCount(pid), rss: rssBytes(pid), ...memory };
}

/** Descriptors and memory of the daemon and the web, after a forced GC in each. */
export async function sample(fx: Fixture): Promise<Sample> {
  return {
    daemon: await processSample(fx.stack.daemon.pid, fx.daemon),
    web: await processSample(fx.stack.webPid, fx.web),
  };
}

export async function snapshot(fx: Fixture): Promise<Snapshot> {
  return { ...(await sample(fx)), ...atRest(fx) };
}

function nbdkitServing(dir: string): number[] {
  return allPids().filter((pid) => {
    const p = processInfo(pid);
    return p?.name === 'nbdkit' && p.cmdline.includes(dir);
  });
}

function childNames(pid: number): string[] {
  return childrenOf(pid)
    .map((c) => c.name)
    .filter((name) => name !== 'esbuild')
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
