// Path D: Chromium's page serving a local file to a Proxy slot (the page's worker: src/nbd server
// over the bridge's WebSocket), `vmedia web`, the daemon's export backend, nbdcopy reading the
// ExportSocket. Chromium is driven over raw CDP (a WebSocket to its DevTools endpoint), never
// with Network.enable: Playwright enables network capture, and Chromium then base64-encodes
// every WebSocket frame for it, which doubled the CPU measured (issue 15). Each Chromium process
// is followed (browser, renderers, network service, …) and the table sums them by kind; the
// consumer is nbdcopy.
//   npx tsx bench/paths/run.ts D
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../test/helpers/chromium.js';
import { startStack, type Stack } from '../../test/helpers/stack.js';
import { unitMemoryEnvironment } from '../memory/unit-node-options.js';
import { waitFor } from '../../test/helpers/wait.js';
import { exportServed } from './bridge.js';
import {
  cachedRandomImage,
  compiledCli,
  interleaved,
  KERNEL_READS,
  KERNEL_READS_UNTUNED,
  measureTransfer,
  NBDCOPY_DEFAULT_READS,
  nbdcopyToNull,
  type Measurement,
  type NbdcopyReads,
  type PathBenchmark,
  type ProcessFigures,
  type Watched,
} from './measure.js';

/**
 * D's consumers. The first reads as the kernel backend does in production (KERNEL_READS) and is
 * the one issue 15's sum is about. The second reads as the kernel did with its own queue
 * settings, one or two 128 KiB requests in flight. The third is session 10's stand-in for
 * production, 16 requests of 256 KiB. The fourth is nbdcopy's default depth over 4 connections,
 * as paths A–C read: with 256 buffers of 256 KiB in flight nbdcopy alone costs 1.4–1.8
 * CPU-s/GiB even against nbdkit at full speed, against 0.4–0.6 with one connection
 * (docs/performance.md, "Paths C and D").
 */
const CONSUMERS: readonly NbdcopyReads[] = [
  KERNEL_READS,
  KERNEL_READS_UNTUNED,
  { label: 'nbdcopy 1 conn × 16 requests', connections: 1, requests: 16, requestBytes: 256 * 1024 },
  NBDCOPY_DEFAULT_READS,
];

/** One CDP session over the browser's DevTools WebSocket (flat sessions: one socket for all). */
class Cdp {
  private next = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
      const waiter = msg.id === undefined ? undefined : this.pending.get(msg.id);
      if (!waiter) return;
      this.pending.delete(msg.id!);
      if (msg.error) waiter.reject(new Error(msg.error.message));
      else waiter.resolve(msg.result);
    });
  }

  static async open(url: string): Promise<Cdp> {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return new Cdp(ws);
  }

  send<T>(method: string, params: object = {}, sessionId?: string): Promise<T> {
    const id = this.next++;
    this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return new Promise<T>((resolve, reject) => this.pending.set(id, { resolve: resolve, reject }));
  }

  /** Evaluates `expression` in the page (promises awaited); its value, or the exception's text. */
  async evaluate<T>(sessionId: string, expression: string): Promise<T> {
    const r = await this.send<{ result: { value?: T }; exceptionDetails?: { exception?: { description?: string } } }>(
      'Runtime.evaluate',
      { expression, awaitPromise: true, returnByValue: true },
      sessionId,
    );
    if (r.exceptionDetails) throw new Error(r.exceptionDetails.exception?.description ?? 'evaluation failed');
    return r.result.value as T;
  }

  close(): void {
    this.ws.close();
  }
}

interface Browser {
  process: ChildProcess;
  cdp: Cdp;
  /** Every process of this Chromium, named by its --type (browser for the first). */
  processes(): Watched[];
  stop(): Promise<void>;
}

// Chromium starts some helpers from threads other than its main one (the network service from a
// thread pool thread): /proc/PID/task/PID/children lists only the main thread's, so read every thread's.
function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** This process's environment without what it holds for the stack (the units' MALLOC_ARENA_MAX and
 *  NODE_OPTIONS): Chromium is the user's browser, not ours, and glibc's arenas shape its CPU too. */
function withoutUnitMemoryEnvironment(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(unitMemoryEnvironment())) delete env[name];
  return env;
}

async function startChromium(dir: string): Promise<Browser> {
  const profile = path.join(dir, `chromium-${Date.now()}`);
  const child = spawn(
    CHROMIUM_PATH,
    [...CHROMIUM_ARGS, '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: withoutUnitMemoryEnvironment() },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.once('exit', () => reject(new Error(`chromium exited:\n${err}`)));
  });
  const cdp = await Cdp.open(url);
  const processes = (): Watched[] => {
    const all: Watched[] = [];
    const walk = (pid: number) => {
      let cmdline: string;
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        return; // gone
      }
      // a helper that just exited (a zombie: no memory, an empty command line) has nothing to measure
      if (cmdline === '') return;
      let type = /--type=([\w-]+)/.exec(cmdline)?.[1] ?? 'browser';
      // a utility's service: network, storage, …
      if (type === 'utility') type = /--utility-sub-type=[\w.]*?(\w+)\.mojom/.exec(cmdline)?.[1] ?? type;
      all.push({ name: `chromium ${type}`, pid });
      for (const c of childrenOf(pid)) walk(c);
    };
    walk(child.pid!);
    return all;
  };
  return {
    process: child,
    cdp,
    processes,
    stop: async () => {
      const helpers = processes().map((p) => p.pid);
      cdp.close();
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
      // its helpers outlive it for a moment, still writing into the profile (rm then fails: ENOTEMPTY)
      await waitFor("Chromium's helper processes to exit", () => helpers.every((pid) => !existsSync(`/proc/${pid}`)), {
        timeoutMs: 15_000,
        intervalMs: 50,
      });
      rmSync(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
    },
  };
}

/** The page logged in, the file picked in an input, a worker serving it to /nbd/0 (opened). */
async function servePage(browser: Browser, stack: Stack, image: string): Promise<() => Promise<void>> {
  const { cdp } = browser;
  const { targetId } = await cdp.send<{ targetId: string }>('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await cdp.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
  await cdp.send('Page.navigate', { url: `${stack.baseUrl}/` }, sessionId);
  await waitFor(
    'the page to load',
    async () => (await cdp.evaluate<string>(sessionId, 'document.readyState').catch(() => '')) === 'complete',
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  const { user, password } = stack.admin;
  const token = await cdp.evaluate<string>(
    sessionId,
    `fetch('/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
       body: JSON.stringify({ username: ${JSON.stringify(user)}, password: ${JSON.stringify(password)} }) })
       .then((r) => r.json()).then((j) => j.token)`,
  );
  await cdp.evaluate(
    sessionId,
    `{ const i = document.createElement('input'); i.type = 'file'; i.id = 'bench-file'; document.body.append(i); }`,
  );
  const { root } = await cdp.send<{ root: { nodeId: number } }>('DOM.getDocument', {}, sessionId);
  const { nodeId } = await cdp.send<{ nodeId: number }>(
    'DOM.querySelector',
    { nodeId: root.nodeId, selector: '#bench-file' },
    sessionId,
  );
  await cdp.send('DOM.setFileInputFiles', { files: [image], nodeId }, sessionId);
  const opened = await cdp.evaluate<string>(
    sessionId,
    `new Promise((resolve) => {
       const w = new Worker('/worker.js', { name: 'nbd-server' });
       window.benchWorker = w;
       w.onmessage = (e) => { if (e.data.type === 'opened' || e.data.type === 'ended') resolve(e.data.type); };
       w.postMessage({ type: 'start', file: document.getElementById('bench-file').files[0],
         url: 'wss://' + location.host + '/nbd/0', xsrfToken: ${JSON.stringify(token)} });
     })`,
  );
  if (opened !== 'opened') throw new Error('the page could not open /nbd/0');
  return async () => {
    await cdp.evaluate(
      sessionId,
      `new Promise((resolve) => { window.benchWorker.onmessage = (e) => { if (e.data.type === 'ended') resolve(); };
         window.benchWorker.postMessage({ type: 'stop' }); })`,
    );
    await cdp.send('Target.closeTarget', { targetId });
  };
}

/** The processes besides Chromium's that D's sum counts (the bench's own row is not the path's). */
const PATH_PROCESSES = ['web', 'daemon', 'nbdcopy'];

/** The kinds of Chromium process with a row of their own in the table; the rest are summed as "others". */
const CHROMIUM_KINDS = ['browser', 'renderer', 'network', 'gpu-process'];

/**
 * One row per kind of Chromium process and one for all of them: each round opens the page in a
 * new renderer (and helpers come and go), so rows per process would not line up between rounds
 * for the medians. RSS figures of a kind are sums (peaks taken apart: an upper bound).
 */
function chromiumByKind(m: Measurement): Measurement {
  const chromium = m.processes.filter((p) => p.name.startsWith('chromium '));
  const sum = (name: string, ps: ProcessFigures[]): ProcessFigures => ({
    name,
    cpuSecondsPerGiB: ps.reduce((s, p) => s + p.cpuSecondsPerGiB, 0),
    rssMiB: {
      idle: ps.reduce((s, p) => s + p.rssMiB.idle, 0),
      peak: ps.reduce((s, p) => s + p.rssMiB.peak, 0),
      after: ps.reduce((s, p) => s + p.rssMiB.after, 0),
    },
  });
  const kindOf = (p: ProcessFigures) => {
    const kind = p.name.slice('chromium '.length);
    return CHROMIUM_KINDS.includes(kind) ? kind : 'other';
  };
  const all = sum('chromium, all processes', chromium);
  const others = m.processes.filter((p) => !p.name.startsWith('chromium '));
  return {
    ...m,
    processes: [
      // issue 15's D target: Chromium, the web, the daemon and the consumer together
      sum('summed: chromium, web, daemon, nbdcopy', [all, ...others.filter((p) => PATH_PROCESSES.includes(p.name))]),
      all,
      ...[...CHROMIUM_KINDS, 'other'].map((kind) =>
        sum(
          `chromium ${kind}${kind === 'renderer' || kind === 'other' ? 's' : ''}`,
          chromium.filter((p) => kindOf(p) === kind),
        ),
      ),
      ...others,
    ],
  };
}

/** A bundle's name for the table: its directory (`scripts/bundle.ts --out DIR` puts main.mjs at DIR/dist/cli/). */
function bundleName(entry: string): string {
  return path.basename(path.resolve(entry, '../../..'));
}

/** The bundle's stack: the daemon and the web run `entry` (the web serves that build's page). */
function startStackOf(entry: string): Promise<Stack> {
  process.env.VMEDIA_TEST_ENTRY = entry;
  return startStack({ webEnv: { VMEDIA_LOG_LEVEL: 'warn' }, startTimeoutMs: 60_000 });
}

const benchmark: PathBenchmark = {
  title: 'Chromium page (raw CDP, no network capture) → `vmedia web` bridge → daemon export → nbdcopy',
  takesAgainst: true,
  async run({ dir, sizeMiB, rounds, against }) {
    const bytes = sizeMiB * 1024 * 1024;
    const image = await cachedRandomImage(dir, bytes);
    // the daemon and the web run with the units' memory environment, as on a BMC (the stack passes it on)
    Object.assign(process.env, unitMemoryEnvironment());
    const stacks: Array<{ stack: Stack; build: string }> = [];
    let browser: Browser | undefined;
    /** One transfer through `stack`'s page, web and daemon, read by `consumer`. */
    const once = async ({ stack, build }: { stack: Stack; build: string }, consumer: NbdcopyReads) => {
      const variant = `${build}; ${consumer.label}`;
      const slot = stack.slots[0]!;
      const stop = await servePage(browser!, stack, image);
      try {
        await exportServed(slot.exportSocket);
        return chromiumByKind(
          await measureTransfer({
            path: 'D',
            variant,
            bytes,
            watched: [
              ...browser!.processes(),
              { name: 'web', pid: stack.webPid },
              { name: 'daemon', pid: stack.daemon.pid },
              // nbdcopy is this process's child: its CPU arrives in our cutime when it is reaped.
              // The bench's own (CDP, sampling a dozen processes' RSS every 20 ms) is not the
              // path's: it has its own row, left out of D's sum.
              { name: 'nbdcopy', pid: process.pid, cpu: 'reaped children' },
              { name: 'bench (not the path)', pid: process.pid, cpu: 'own' },
            ],
            transfer: () =>
              nbdcopyToNull(
                `nbd+unix:///?socket=${slot.exportSocket}`,
                consumer.connections,
                consumer.requests,
                consumer.requestBytes,
              ),
          }),
        );
      } finally {
        await stop();
      }
    };
    try {
      // the bundle serves its own build of the page (scripts/bundle.ts)
      stacks.push({ stack: await startStackOf(await compiledCli()), build: 'Chromium page → web → daemon export' });
      for (const entry of against) {
        stacks.push({ stack: await startStackOf(entry), build: `the same, build ${bundleName(entry)}` });
      }
      browser = await startChromium(dir);
      return await interleaved(
        rounds,
        CONSUMERS.flatMap((consumer) => stacks.map((s) => () => once(s, consumer))),
      );
    } finally {
      await browser?.stop();
      for (const { stack } of stacks) await stack.stop();
    }
  },
};
export default benchmark;
