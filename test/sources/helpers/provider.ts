// Runs the real source provider the way the daemon does, on sockets in a temp dir, with a logger
// whose lines the tests can read; plus the checks every test shares (what nbdcopy reads, and
// that nothing is left behind).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { ServiceConfig, SlotConfig } from '../../../src/config/types.js';
import { DEFAULT_NBD_QUEUE } from '../../../src/config/load.js';
import { normalizeSourcesConfig } from '../../../src/sources/config.js';
import { createSourceProvider } from '../../../src/sources/index.js';
import type { Credentials, RunningSource, SourceProvider } from '../../../src/sources/types.js';
import { MountError } from '../../../src/errno.js';

export interface ProviderHarness {
  dir: string;
  config: ServiceConfig;
  provider: SourceProvider;
  /** Every log line so far, as JSON text. */
  logText(): string;
  /** Starts a source for `url` on a fresh socket. */
  mount(
    url: string,
    opts?: { writable?: boolean; credentials?: Credentials; slot?: string },
  ): Promise<{ socket: string; source: RunningSource; exits: MountError[] }>;
  /** The MountError that start() rejects with (fails the test when it resolves). */
  mountError(url: string, opts?: { writable?: boolean; credentials?: Credentials }): Promise<MountError>;
  assertNothingLeft(): void;
  close(): Promise<void>;
}

export async function startProvider(
  opts: { sources?: Record<string, unknown>; trustStore?: string; allowPrivate?: boolean; slotTimeout?: number } = {},
): Promise<ProviderHarness> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-src-'));
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  const config: ServiceConfig = {
    inactivityTimeout: 0,
    hostBackend: 'export',
    ...(opts.trustStore ? { trustStore: opts.trustStore } : {}),
    allowPrivateSourceHosts: opts.allowPrivate ?? true,
    nbdClient: { path: 'nbd-client' },
    nbdQueue: DEFAULT_NBD_QUEUE,
    sysRoot: '/sys',
    devRoot: '/dev',
    configfsRoot: '/sys/kernel/config',
    runtimeDir: path.join(dir, 'run'),
    sources: normalizeSourcesConfig(opts.sources),
    slots: [],
  };
  const provider = await createSourceProvider(config, log);
  const running = new Set<RunningSource>();
  let n = 0;
  const slot = (name: string): SlotConfig => ({
    name,
    mode: 'legacy',
    endpointId: '',
    nbdDevice: 'nbd9',
    unixSocket: path.join(dir, `${name}.sock`),
    timeout: opts.slotTimeout ?? 20,
    mediaType: 'CD',
  });
  const request = (url: string, o: { writable?: boolean; credentials?: Credentials; slot?: string }) => {
    const s = slot(o.slot ?? `Slot_${n++}`);
    return {
      slot: s,
      url,
      writable: o.writable ?? false,
      socket: s.unixSocket,
      ...(o.credentials ? { credentials: o.credentials } : {}),
    };
  };
  const harness: ProviderHarness = {
    dir,
    config,
    provider,
    logText: () => lines.join(''),
    async mount(url, o = {}) {
      const req = request(url, o);
      const exits: MountError[] = [];
      const source = await provider.start(req, (err) => exits.push(err));
      running.add(source);
      return { socket: req.socket, source, exits };
    },
    async mountError(url, o = {}) {
      const req = request(url, o);
      try {
        const source = await provider.start(req, () => {});
        running.add(source);
      } catch (err) {
        assert.ok(err instanceof MountError, `expected a MountError, got ${String(err)}`);
        return err;
      }
      assert.fail(`mounting ${url} succeeded; expected an error`);
    },
    assertNothingLeft() {
      const procs = nbdkitProcessesUnder(dir);
      assert.deepEqual(procs, [], `nbdkit processes left: ${procs.join(', ')}`);
      const sockets = readdirSync(dir).filter((f) => f.endsWith('.sock'));
      assert.deepEqual(sockets, [], 'sockets left behind');
      const state = path.join(config.runtimeDir, 'sources');
      const leftovers = readdirSync(state).filter((f) => f !== 'tmp' && f !== 'capath');
      assert.deepEqual(leftovers, [], 'state files left behind');
      assert.deepEqual(readdirSync(path.join(state, 'tmp')), [], 'temp files left behind');
    },
    async close() {
      for (const s of running) await s.stop();
      await provider.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Pids of nbdkit processes whose command line mentions `dir`. */
export function nbdkitProcessesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.startsWith('nbdkit\0') && cmdline.includes(dir)) pids.push(Number(entry));
  }
  return pids;
}

/** Every /proc/<pid>/cmdline and environ that contains `secret` (argv and environment of all processes). */
export function procFilesContaining(secret: string): string[] {
  const hits: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    for (const what of ['cmdline', 'environ']) {
      try {
        if (readFileSync(`/proc/${pid}/${what}`).includes(secret)) hits.push(`/proc/${pid}/${what}`);
      } catch {
        /* exited meanwhile */
      }
    }
  }
  return hits;
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

// Debian's Python first: nbdsh needs its nbd module, which the pyenv python3 on PATH lacks
const DEBIAN_PATH = `/usr/bin:${process.env.PATH ?? ''}`;

export function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, PATH: DEBIAN_PATH };
    execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8', env },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Copies the whole NBD export on `socket` to `out` with nbdcopy; returns its sha256. */
export async function copyExport(socket: string, out: string): Promise<string> {
  const r = await run('nbdcopy', [`nbd+unix:///?socket=${socket}`, out]);
  assert.equal(r.code, 0, `nbdcopy failed: ${r.stderr}`);
  assert.ok(existsSync(out));
  return sha256File(out);
}

/** Writes a file of `mib` MiB of random bytes; returns its sha256. */
export async function randomImage(file: string, mib: number): Promise<string> {
  const r = await run('dd', ['if=/dev/urandom', `of=${file}`, 'bs=1M', `count=${mib}`, 'status=none']);
  assert.equal(r.code, 0, `dd failed: ${r.stderr}`);
  return sha256File(file);
}
