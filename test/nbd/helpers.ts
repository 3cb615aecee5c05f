// Shared pieces of the NBD tests: temp dirs, random images, our server and nbdkit as child
// processes, libnbd tools, an in-memory backend and an in-memory stream pair.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { NbdError, type BlockBackend } from '../../src/nbd/backend.js';
import type { ByteStream } from '../../src/nbd/stream.js';
import { waitFor } from '../helpers/wait.js';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
const cli = path.join(repoRoot, 'src/cli/main.ts');
/** nbdsh and python3-libnbd are Debian Python: the pyenv python3 first on PATH lacks them. */
export const debianPathEnv = { ...process.env, PATH: `/usr/bin:${process.env.PATH}` };

export function makeTempDir(prefix = 'vmedia-nbd-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A file of random bytes, written 1 MiB at a time. */
export async function writeRandomFile(file: string, bytes: number): Promise<void> {
  const fh = await open(file, 'w');
  try {
    for (let done = 0; done < bytes; done += 1 << 20) await fh.write(randomBytes(Math.min(1 << 20, bytes - done)));
  } finally {
    await fh.close();
  }
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

export const run = promisify(execFile);

/** Bytes as hex: compares Buffers and Uint8Arrays by content alone. */
export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function unixUri(socket: string, exportName = ''): string {
  return `nbd+unix:///${exportName}?socket=${socket}`;
}

export interface Child {
  socket: string;
  uri: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Whether something accepts connections on the socket (the file appears at bind(), before listen()). */
function accepting(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(socket);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

async function waitForSocket(child: ChildProcess, socket: string, what: string, output: () => string): Promise<void> {
  const listening = await waitFor(
    () => `${what} to listen on ${socket}: ${output()}`,
    async () => (child.exitCode !== null ? 'exited' : (await accepting(socket)) && 'listening'),
    { timeoutMs: 15_000, intervalMs: 25 },
  );
  if (listening !== 'listening') throw new Error(`${what} exited with ${child.exitCode} before listening: ${output()}`);
}

/** `cmd args` serving NBD on `socket`, once it accepts connections. */
export async function startChild(cmd: string, args: string[], socket: string, what: string): Promise<Child> {
  const child = spawn(cmd, args, { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += String(d);
  });
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (err) => reject(new Error(`cannot start ${what}: ${err.message}`))),
  );
  await Promise.race([waitForSocket(child, socket, what, () => stderr), spawnError]);
  return {
    socket,
    uri: unixUri(socket),
    process: child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** `vmedia nbd serve` from source, on a unix socket in dir. */
export function startOurServer(file: string, dir: string, opts: { readOnly: boolean; name?: string }): Promise<Child> {
  const socket = path.join(dir, `ours-${Math.random().toString(36).slice(2)}.sock`);
  const args = ['--import', 'tsx', cli, 'nbd', 'serve', file, '--socket', socket];
  if (opts.readOnly) args.push('--readonly');
  if (opts.name !== undefined) args.push('--name', opts.name);
  return startChild(process.execPath, args, socket, 'vmedia nbd serve');
}

/** nbdkit with a plugin (e.g. ['memory', 'size=1M'] or ['file', path]) on a unix socket in dir. */
export function startNbdkit(dir: string, plugin: string[], extra: string[] = []): Promise<Child> {
  const socket = path.join(dir, `nbdkit-${Math.random().toString(36).slice(2)}.sock`);
  return startChild(
    'nbdkit',
    ['--foreground', '--exit-with-parent', '--unix', socket, ...extra, ...plugin],
    socket,
    'nbdkit',
  );
}

/** Runs a Python script under nbdsh (libnbd's shell; `h` is the handle) and returns stdout. */
export async function nbdsh(uri: string, script: string, dir: string): Promise<string> {
  const file = path.join(dir, `probe-${Math.random().toString(36).slice(2)}.py`);
  writeFileSync(file, script);
  const { stdout } = await run('nbdsh', ['-u', uri, '-c', `exec(open(${JSON.stringify(file)}).read())`], {
    env: debianPathEnv,
  });
  return stdout;
}

export function memoryBackend(data: Uint8Array, opts: { readOnly?: boolean } = {}): BlockBackend & { flushes: number } {
  const backend = {
    size: data.length,
    readOnly: opts.readOnly ?? false,
    flushes: 0,
    async read(offset: number, length: number) {
      return data.slice(offset, offset + length);
    },
    async write(offset: number, bytes: Uint8Array, fua: boolean) {
      if (backend.readOnly) throw new NbdError('EPERM', 'read-only');
      data.set(bytes, offset);
      if (fua) backend.flushes++;
    },
    async flush() {
      backend.flushes++;
    },
  };
  return backend;
}

/**
 * Two connected in-memory ByteStreams. Writes are delivered asynchronously (like a socket);
 * a paused end queues what it receives; write() reports "full" above highWater queued bytes.
 */
export function memoryStreamPair(highWater = 1 << 20): [ByteStream, ByteStream] {
  interface End {
    data: Array<(d: Uint8Array) => void>;
    drain: Array<() => void>;
    close: Array<(err?: Error) => void>;
    inbox: Uint8Array[];
    inboxBytes: number;
    paused: boolean;
    closed: boolean;
    peer?: End;
  }
  const mk = (): End => ({ data: [], drain: [], close: [], inbox: [], inboxBytes: 0, paused: false, closed: false });
  const a = mk();
  const b = mk();
  a.peer = b;
  b.peer = a;
  const deliver = (e: End) => {
    while (!e.paused && !e.closed && e.inbox.length > 0) {
      const d = e.inbox.shift()!;
      e.inboxBytes -= d.length;
      for (const cb of e.data) cb(d);
      if (e.inboxBytes <= highWater / 2) for (const cb of e.peer!.drain) cb();
    }
  };
  const shut = (e: End) => {
    for (const x of [e, e.peer!]) {
      if (x.closed) continue;
      x.closed = true;
      for (const cb of x.close) cb();
    }
  };
  const stream = (e: End): ByteStream => ({
    write(d) {
      const p = e.peer!;
      if (e.closed || p.closed) return true;
      p.inbox.push(d.slice());
      p.inboxBytes += d.length;
      queueMicrotask(() => deliver(p));
      return p.inboxBytes <= highWater;
    },
    onData: (cb) => {
      e.data.push(cb);
    },
    onDrain: (cb) => {
      e.drain.push(cb);
    },
    onClose: (cb) => {
      if (e.closed) queueMicrotask(() => cb());
      else e.close.push(cb);
    },
    pause: () => {
      e.paused = true;
    },
    resume: () => {
      e.paused = false;
      queueMicrotask(() => deliver(e));
    },
    // graceful: what is already queued for the peer is still delivered first
    close: () => {
      setTimeout(() => shut(e), 0);
    },
  });
  return [stream(a), stream(b)];
}
