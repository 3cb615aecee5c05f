// What /proc says about a process: open descriptors, child processes, resident memory, and which
// processes carry a string in their argv or environment. Linux only, like the service.
import { readdirSync, readFileSync } from 'node:fs';

/** How many descriptors the process has open (/proc/PID/fd). */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export interface ProcessInfo {
  pid: number;
  /** argv[0] without its directory ("nbdkit", "node", "esbuild"). */
  name: string;
  cmdline: string;
}

/** The direct children of `pid`, from every thread's children list (a child belongs to the thread that forked it). */
export function childrenOf(pid: number): ProcessInfo[] {
  const pids = new Set<number>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    let list: string;
    try {
      list = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    for (const p of list.split(' ').filter(Boolean)) pids.add(Number(p));
  }
  return [...pids].flatMap((p) => {
    const info = processInfo(p);
    return info ? [info] : [];
  });
}

export function processInfo(pid: number): ProcessInfo | undefined {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return { pid, name: (argv[0] ?? '').split('/').pop() ?? '', cmdline: argv.join(' ') };
  } catch {
    return undefined; // exited meanwhile
  }
}

/** argv[0] of `pid` without its directory, or "?" once it has exited. */
export function commandName(pid: number): string {
  return processInfo(pid)?.name ?? '?';
}

/** Resident memory in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** Every running pid. */
export function allPids(): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .map(Number);
}

/** "/proc/PID/<file>" for each of `pids` whose `file` (cmdline, environ) contains `needle`. */
export function procFilesContaining(needle: string, file: 'cmdline' | 'environ', pids = allPids()): string[] {
  const hits: string[] = [];
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/${file}`).includes(needle)) hits.push(`/proc/${pid}/${file}`);
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return hits;
}
