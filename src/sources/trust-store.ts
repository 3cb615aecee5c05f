// The CAs trusted for HTTPS sources. Operators (and Redfish's Truststore) drop PEM files into the
// configured TrustStore directory; we keep a copy of the valid certificates in a directory of our
// own with the hashed links (`openssl rehash`) that curl's `capath` needs, and refresh it whenever
// the TrustStore changes, so a new CA works for the next Mount without a restart.
import { X509Certificate } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../log.js';
import type { ProcessRunner } from '../process/runner.js';

export interface TrustStore {
  /** Directory for curl's `capath`. */
  readonly capath: string;
  /** Resolves when the copy reflects the TrustStore as it is now. */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const MAX_PEM_BYTES = 1024 * 1024;
const DEBOUNCE_MS = 100;

export async function openTrustStore(
  sourceDir: string,
  capath: string,
  log: Logger,
  runner: ProcessRunner,
): Promise<TrustStore> {
  await mkdir(sourceDir, { recursive: true });
  await rm(capath, { recursive: true, force: true });
  await mkdir(capath, { recursive: true, mode: 0o755 });

  // one sync at a time; a change during a sync schedules exactly one more
  let running: Promise<void> = Promise.resolve();
  let pending: Promise<void> | undefined;
  const refresh = (): Promise<void> => {
    pending ??= running.then(() => {
      pending = undefined;
      return syncCopy(sourceDir, capath, log, runner);
    });
    running = pending.catch((err: Error) =>
      log.error({ err: err.message, dir: sourceDir }, 'trust store refresh failed'),
    );
    return running;
  };

  await refresh();
  let timer: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(sourceDir, {
    ignoreInitial: true,
    depth: 0,
    awaitWriteFinish: { stabilityThreshold: 50, pollInterval: 20 },
  });
  watcher.on('all', () => {
    clearTimeout(timer);
    timer = setTimeout(() => void refresh(), DEBOUNCE_MS);
  });
  watcher.on('error', (err) => log.error({ err: String(err), dir: sourceDir }, 'trust store watch failed'));
  await new Promise<void>((resolve) => watcher.once('ready', resolve));

  return {
    capath,
    refresh,
    async close() {
      clearTimeout(timer);
      await watcher.close();
      await running;
    },
  };
}

async function syncCopy(sourceDir: string, capath: string, log: Logger, runner: ProcessRunner): Promise<void> {
  const wanted = new Map<string, string>();
  for (const entry of await readdir(sourceDir, { withFileTypes: true })) {
    if (!entry.isFile() && !entry.isSymbolicLink()) continue;
    const file = path.join(sourceDir, entry.name);
    const pem = await readValidCertificates(file).catch((err: Error) => {
      log.warn({ file, reason: err.message }, 'trust store: file ignored');
      return undefined;
    });
    // ".pem" so that `openssl rehash` picks the copy up whatever the original was called
    if (pem) wanted.set(`${entry.name.replace(/[^A-Za-z0-9._-]/g, '_')}.pem`, pem);
  }
  for (const name of await readdir(capath)) {
    if (!wanted.has(name)) await rm(path.join(capath, name), { force: true });
  }
  for (const [name, pem] of wanted) await writeFile(path.join(capath, name), pem, { mode: 0o644 });
  await rehash(capath, runner);
  log.info({ dir: sourceDir, certificates: wanted.size }, 'trust store loaded');
}

/** The certificates of a PEM file, re-encoded; throws when it holds none or a broken one. */
async function readValidCertificates(file: string): Promise<string> {
  const text = await readFile(file, 'utf8');
  if (text.length > MAX_PEM_BYTES) throw new Error('larger than 1 MiB');
  const blocks = text.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate in it');
  return blocks.map((b) => new X509Certificate(b).toString()).join('');
}

async function rehash(dir: string, runner: ProcessRunner): Promise<void> {
  const r = await runner.run('openssl', ['rehash', dir], { timeoutMs: 30_000, onLine: () => undefined });
  if (r.code !== 0) throw new Error(`openssl rehash: ${r.stderr.trim() || `exit code ${r.code}`}`);
}
