// The CAs trusted for HTTPS sources. Operators (and Redfish's Truststore) drop PEM files into the
// configured TrustStore directory; we keep a copy of the valid certificates in a directory of our
// own with the hashed links (`openssl rehash`) that curl's `capath` needs, and refresh it whenever
// the TrustStore changes, so a new CA works for the next Mount without a restart.
// Every HTTPS mount refreshes first, while other slots' curl may be verifying a server against
// the copy. Rewriting it in place (`openssl rehash` removes the links before it makes them anew)
// let a concurrent mount find no CA and fail with an untrusted certificate. So a copy is never
// changed: each set of certificates gets its own directory, named by its content, and `current`,
// the path curl is given, is a link switched to it by rename(2). A refresh that finds the same
// certificates changes nothing and runs no `openssl`.
import { createHash, X509Certificate } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../log.js';
import type { ProcessRunner } from '../process/runner.js';

export interface TrustStore {
  /** Directory for curl's `capath`: a link to the copy of the TrustStore as last refreshed. */
  readonly capath: string;
  /** Resolves when the copy reflects the TrustStore as it is now. */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const MAX_PEM_BYTES = 1024 * 1024;
const DEBOUNCE_MS = 100;

/** `copiesDir`: the copies and the `current` link to one of them; emptied at start, removed by close(). */
export async function openTrustStore(
  sourceDir: string,
  copiesDir: string,
  log: Logger,
  runner: ProcessRunner,
): Promise<TrustStore> {
  await mkdir(sourceDir, { recursive: true });
  await rm(copiesDir, { recursive: true, force: true });
  await mkdir(copiesDir, { recursive: true, mode: 0o755 });
  const copies = new CertificateCopies(copiesDir);

  // one sync at a time; a change during a sync schedules exactly one more
  let running: Promise<void> = Promise.resolve();
  let pending: Promise<void> | undefined;
  const refresh = (): Promise<void> => {
    pending ??= running.then(() => {
      pending = undefined;
      return syncCopy(sourceDir, copies, log, runner);
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
    capath: copies.current,
    refresh,
    async close() {
      clearTimeout(timer);
      await watcher.close();
      await running;
      // the sources are stopped by now: a stopped daemon leaves no runtime files behind
      await rm(copiesDir, { recursive: true, force: true });
    },
  };
}

async function syncCopy(
  sourceDir: string,
  copies: CertificateCopies,
  log: Logger,
  runner: ProcessRunner,
): Promise<void> {
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
  if (await copies.install(wanted, runner))
    log.info({ dir: sourceDir, certificates: wanted.size }, 'trust store loaded');
}

/** The copies of the TrustStore, one directory per set of certificates, and the link to the one in use. */
class CertificateCopies {
  /** The link curl reads through. */
  readonly current: string;
  private installed: string | undefined;

  constructor(private readonly dir: string) {
    this.current = path.join(dir, 'current');
  }

  /** Makes `current` the copy of these files (name → PEM); false when it already was. */
  async install(files: ReadonlyMap<string, string>, runner: ProcessRunner): Promise<boolean> {
    const name = contentName(files);
    if (name === this.installed) return false;
    const copy = path.join(this.dir, name);
    const link = path.join(this.dir, `${name}.link`);
    try {
      await rm(copy, { recursive: true, force: true }); // a copy left by a failed install
      await mkdir(copy, { mode: 0o755 });
      for (const [file, pem] of files) await writeFile(path.join(copy, file), pem, { mode: 0o644 });
      await rehash(copy, runner);
      await symlink(name, link);
      await rename(link, this.current);
    } catch (err) {
      await Promise.all([rm(copy, { recursive: true, force: true }), rm(link, { force: true })]);
      throw err;
    }
    // a lookup that went through the old link has its file open already or none to open
    if (this.installed) await rm(path.join(this.dir, this.installed), { recursive: true, force: true });
    this.installed = name;
    return true;
  }
}

/** A directory name for a set of files: the same certificates, the same name (so a refresh that finds them keeps it). */
function contentName(files: ReadonlyMap<string, string>): string {
  const hash = createHash('sha256');
  for (const [file, pem] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) hash.update(`${file}\0${pem}\0`);
  return hash.digest('hex').slice(0, 16);
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
