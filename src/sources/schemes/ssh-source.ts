// sftp:// images: nbdkit's ssh plugin reads the file over SFTP (ranged reads, never a full
// download), under the same filter chain as curl. The server's host key must already be in the
// configured known_hosts file: there is no trust on first use. With the SSRF guard on, the
// connection goes through the slot's relay (ssh-proxy.ts), so that it reaches a checked address.
import { access, constants } from 'node:fs/promises';
import type { Credentials, RunningSource } from '../types.js';
import { MountError } from '../../errno.js';
import { buildFilterChain } from '../nbdkit/filter-chain.js';
import { classifySshFailure } from './ssh-errors.js';
import { secretLine } from '../guards/credentials.js';
import { hasControlCharacter } from '../guards/source-url.js';
import { startSshProxy } from '../guards/ssh-proxy.js';
import { serveWithNbdkit, type SourceContext } from '../nbdkit/source.js';

export interface SshSourceContext extends SourceContext {
  /** The login named in the URL (sftp://user@host/...), taken out before the URL check. */
  urlUser?: string;
}

export async function startSshSource(ctx: SshSourceContext, onExit: (err: MountError) => void): Promise<RunningSource> {
  const { sources, url, req } = ctx;
  const user = loginUser(ctx.urlUser, req.credentials);
  const file = remotePath(url.url);
  const knownHosts = sources.config.sshKnownHosts;
  await requireKnownHostsFile(ctx, knownHosts);
  const chain = buildFilterChain({
    sources: sources.config,
    available: ctx.filters,
    pathname: file,
    writable: req.writable,
    plugin: { network: true, writable: false },
  });
  const password = req.credentials && req.credentials.password.length > 0 ? req.credentials : undefined;
  const proxy = ctx.checkedAddresses ? await startSshProxy(ctx) : undefined;
  const args = [
    ...chain.filters,
    'ssh',
    `host=${url.host}`,
    `port=${url.port}`,
    `user=${user}`,
    `path=${file}`,
    // not the system's ssh_config: a Host block there could turn off host key checking or send us
    // elsewhere; ours (with the guard) only sets the ProxyCommand
    `config=${proxy?.configFile ?? ''}`,
    `known-hosts=${knownHosts}`,
    'verify-remote-host=true',
    `timeout=${sources.config.requestTimeoutSeconds}`,
    ...(password ? ['password=-3'] : []),
    ...chain.params,
  ];
  return serveWithNbdkit(
    ctx,
    {
      args,
      readOnly: chain.readOnly,
      network: true,
      secret: password ? secretLine(password) : undefined,
      classify: (stderr) => classifySshFailure(stderr, { knownHosts }),
      ...(proxy
        ? {
            env: proxy.env,
            // the relay knows why its latest connection failed (libssh only sees the ProxyCommand end)
            refine: async (cause: MountError) => proxy.relay.lastFailure() ?? cause,
            cleanup: () => proxy.close(),
          }
        : {}),
    },
    onExit,
  );
}

/** The login: from the URL or the credentials (the same one if both name it). */
function loginUser(urlUser: string | undefined, creds: Credentials | undefined): string {
  const credUser = creds?.user ?? '';
  if (urlUser !== undefined && credUser !== '' && urlUser !== credUser) {
    throw new MountError('EINVAL', 'the user name in the image URL and the UserName of the credentials differ');
  }
  const user = urlUser ?? credUser;
  if (user === '')
    throw new MountError('EINVAL', 'an sftp:// image needs a user name: sftp://user@host/path or UserName');
  return user;
}

/** The file on the server: the URL's path decoded; /~/ starts in the login's home (as curl reads sftp:// URLs). */
function remotePath(url: URL): string {
  if (url.search !== '' || url.hash !== '') {
    throw new MountError('EINVAL', 'an sftp:// URL takes no query or fragment (percent-encode ? and # in file names)');
  }
  let file: string;
  try {
    file = decodeURIComponent(url.pathname);
  } catch {
    throw new MountError('EINVAL', 'the image path is not valid percent-encoding');
  }
  if (hasControlCharacter(file)) throw new MountError('EINVAL', 'the image path contains control characters');
  if (file.startsWith('/~/')) file = file.slice(3);
  if (file === '' || file.endsWith('/')) throw new MountError('EINVAL', 'the image URL names a directory, not a file');
  return file;
}

/** libssh says only "unknown host key or unreadable file": name a missing file as such. */
async function requireKnownHostsFile(ctx: SourceContext, knownHosts: string): Promise<void> {
  try {
    await access(knownHosts, constants.R_OK);
  } catch {
    const err = new MountError(
      'EKEYREJECTED',
      `the known_hosts file ${knownHosts} is missing or unreadable, so the SFTP server's host key cannot be verified (Sources.SshKnownHosts)`,
    );
    ctx.log.error(
      { slot: ctx.req.slot.name, url: ctx.url.redacted, errno: err.errno, cause: err.message },
      'Legacy source failed',
    );
    throw err;
  }
}
