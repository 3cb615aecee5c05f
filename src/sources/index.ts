// The Legacy source provider the daemon's composition root builds: finds out which schemes this
// machine can serve, keeps the HTTPS trust store current, and serves each Mount's URL with the
// matching source after the checks every source shares (URL, SSRF guard, credentials).
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import type { Logger } from '../log.js';
import { createProcessRunner } from '../process/runner.js';
import type { ServiceConfig } from '../config/types.js';
import type { SourceProvider } from './types.js';
import { MountError } from '../errno.js';
import { parseSourceUrl, takeSftpUrlUser } from './guards/source-url.js';
import { findExecutable } from './nbdkit/find-executable.js';
import { kernelCanMount } from './schemes/kernel-mount.js';
import { clearStaleState } from './stale-state.js';
import { probeNbdkit } from './nbdkit/probe.js';
import { openTrustStore, type TrustStore } from './trust-store.js';
import { checkSourceHost } from './guards/ssrf-guard.js';
import { checkCredentials } from './guards/credentials.js';
import type { SourcesRuntime } from './nbdkit/source.js';

export async function createSourceProvider(config: ServiceConfig, log: Logger): Promise<SourceProvider> {
  const runner = createProcessRunner(log);
  const caps = await probeNbdkit(runner);
  const schemes: string[] = [];
  const unavailable = new Map<string, string>();
  const offer = (scheme: string, plugin: string) => {
    if (caps.plugins.has(plugin)) schemes.push(scheme);
    else unavailable.set(scheme, `the installed nbdkit has no ${plugin} plugin`);
  };
  offer('https', 'curl');
  offer('http', 'curl');
  offer('ftp', 'curl');
  offer('sftp', 'ssh');
  for (const [scheme, fstype, helper] of [
    ['smb', 'cifs', 'mount.cifs'],
    ['nfs', 'nfs', 'mount.nfs'],
  ] as const) {
    if (!(await findExecutable(helper))) unavailable.set(scheme, `${helper} is not installed`);
    else if (!(await kernelCanMount(fstype))) unavailable.set(scheme, `the kernel has no ${fstype} file system`);
    else offer(scheme, 'file');
  }
  for (const [scheme, reason] of unavailable) log.warn({ scheme, reason }, 'Legacy source scheme unavailable');
  for (const reason of caps.missing)
    log.warn({ reason }, 'nbdkit part missing: some Legacy sources or filters are unavailable');
  log.info({ schemes }, 'Legacy source schemes');

  const runtime: SourcesRuntime = {
    config: config.sources,
    stateDir: path.join(config.runtimeDir, 'sources'),
    // a directory of our own even inside a configured TempDir: stale files in it are removed at start
    tempDir: config.sources.tempDir
      ? path.join(config.sources.tempDir, 'vmedia-sources')
      : path.join(config.runtimeDir, 'sources', 'tmp'),
    runner,
  };
  await mkdir(runtime.stateDir, { recursive: true, mode: 0o700 });
  await mkdir(runtime.tempDir, { recursive: true, mode: 0o700 });
  await clearStaleState(
    runtime.stateDir,
    runtime.tempDir,
    log,
    runner,
    config.slots.filter((s) => s.mode === 'legacy').map((s) => s.unixSocket),
  );
  const trust: TrustStore | undefined = config.trustStore
    ? await openTrustStore(config.trustStore, path.join(runtime.stateDir, 'capath'), log, runner)
    : undefined;

  return {
    schemes: () => [...schemes],
    async start(req, onExit) {
      // each kind of source loads its modules with its first mount, not at start (the daemon's
      // idle memory): the generated image's server, curl, the shares, ssh
      if (req.generated) {
        const { serveGeneratedImage } = await import('./generated/serve.js');
        return serveGeneratedImage(req.generated, { socket: req.socket, writable: req.writable, log });
      }
      const { text, user: urlUser } = takeSftpUrlUser(req.url);
      const url = parseSourceUrl(text, [...schemes, ...unavailable.keys()]);
      const missing = unavailable.get(url.scheme);
      if (missing) throw new MountError('EINVAL', `${url.scheme}:// sources are unavailable: ${missing}`);
      if (req.credentials) checkCredentials(req.credentials);
      const checkedAddresses = config.allowPrivateSourceHosts ? undefined : await checkSourceHost(url.host);
      const ctx = {
        sources: runtime,
        log,
        req,
        url,
        filters: caps.filters,
        ...(checkedAddresses ? { checkedAddresses } : {}),
      };
      switch (url.scheme) {
        case 'https':
        case 'http':
        case 'ftp': {
          // a CA added a moment ago (Redfish's Truststore POST, then InsertMedia) counts for this
          // mount: the watcher's debounced refresh may not have run yet
          await trust?.refresh();
          const { startCurlSource } = await import('./schemes/curl-source.js');
          return startCurlSource({ ...ctx, ...(trust ? { capath: trust.capath } : {}) }, onExit);
        }
        case 'smb':
        case 'nfs': {
          const { startShareSource } = await import('./schemes/share-source.js');
          return startShareSource(ctx, onExit);
        }
        case 'sftp': {
          const { startSshSource } = await import('./schemes/ssh-source.js');
          return startSshSource({ ...ctx, urlUser }, onExit);
        }
        default:
          throw new MountError('EINVAL', `URL scheme "${url.scheme}" is not supported`);
      }
    },
    async close() {
      await trust?.close();
    },
  };
}
