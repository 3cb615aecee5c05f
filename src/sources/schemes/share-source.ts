// smb:// and nfs:// images: the kernel mounts the directory that holds the image under the
// runtime dir (CIFS: SMB 3.1.1 then 3.0, encrypted, read-only unless the Mount is writable;
// NFS: read-only), then `nbdkit file` serves the file. Teardown stops nbdkit, then unmounts.
import path from 'node:path';
import { open, rm, stat } from 'node:fs/promises';
import type { RunningSource } from '../types.js';
import type { Credentials } from '../types.js';
import { MountError } from '../../errno.js';
import { buildFilterChain } from '../nbdkit/filter-chain.js';
import { kernelMount, type MountAttempt } from './kernel-mount.js';
import { serveWithNbdkit, type SourceContext } from '../nbdkit/source.js';

interface SharePlan {
  attempts: MountAttempt[];
  /** The image's file name inside the mounted directory. */
  file: string;
  /** The mount takes writes itself (a CIFS share mounted rw). */
  writable: boolean;
}

const HARDENING = ['nosuid', 'nodev', 'noexec'];

export async function startShareSource(ctx: SourceContext, onExit: (err: MountError) => void): Promise<RunningSource> {
  const { req, url, sources } = ctx;
  const segments = url.url.pathname.split('/').slice(1).map(decodeSegment);
  const minimum = url.scheme === 'smb' ? 2 : 1;
  if (segments.length < minimum || segments.some((s) => s === '' || s === '.' || s === '..' || /[/\0]/.test(s))) {
    throw new MountError(
      'EINVAL',
      url.scheme === 'smb'
        ? 'an smb:// URL needs //host/share/[dir/]file'
        : 'an nfs:// URL needs //host/export/path/file',
    );
  }
  const credFile = path.join(sources.stateDir, `${req.slot.name}.cred`);
  const plan = url.scheme === 'smb' ? await cifsPlan(ctx, segments, credFile) : nfsPlan(ctx, segments);
  const mountDir = path.join(sources.stateDir, `${req.slot.name}.mnt`);
  let mount;
  try {
    mount = await kernelMount(mountDir, plan.attempts, req.slot.timeout * 1000, ctx.sources.runner);
  } catch (err) {
    if (err instanceof MountError)
      ctx.log.error(
        { slot: req.slot.name, url: url.redacted, errno: err.errno, cause: err.message },
        'Legacy source failed',
      );
    throw err;
  } finally {
    await rm(credFile, { force: true });
  }
  const image = path.join(mount.dir, plan.file);
  const isFile = await stat(image).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!isFile) {
    await mount.release();
    throw new MountError(
      'ENOENT',
      `the image file "${plan.file}" does not exist on the ${url.scheme === 'smb' ? 'share' : 'export'}`,
    );
  }
  const chain = buildFilterChain({
    sources: sources.config,
    available: ctx.filters,
    pathname: plan.file,
    writable: req.writable,
    plugin: { network: false, writable: plan.writable },
  });
  return serveWithNbdkit(
    ctx,
    {
      args: [...chain.filters, 'file', `file=${image}`, ...chain.params],
      readOnly: chain.readOnly,
      // the kernel's CIFS/NFS client reads ahead itself
      network: false,
      classify: () => undefined,
      cleanup: () => mount.release(),
    },
    onExit,
  );
}

async function cifsPlan(ctx: SourceContext, segments: string[], credFile: string): Promise<SharePlan> {
  const { url, req } = ctx;
  const file = segments[segments.length - 1]!; // at least `minimum` segments
  const unc = `//${url.url.hostname}/${segments.slice(0, -1).join('/')}`;
  const auth = req.credentials ? [`credentials=${await writeCifsCredentials(credFile, req.credentials)}`] : ['guest'];
  const base = [
    req.writable ? 'rw' : 'ro',
    'seal',
    ...HARDENING,
    ...auth,
    ...(url.url.port ? [`port=${url.port}`] : []),
  ];
  return {
    attempts: ['3.1.1', '3.0'].map((v) => ({ fstype: 'cifs' as const, device: unc, options: [`vers=${v}`, ...base] })),
    file,
    writable: req.writable,
  };
}

function nfsPlan(ctx: SourceContext, segments: string[]): SharePlan {
  const { url, req } = ctx;
  if (req.credentials) throw new MountError('EINVAL', 'nfs:// sources take no user name or password');
  const host = url.host.includes(':') ? `[${url.host}]` : url.host;
  const options = ['ro', ...HARDENING, 'soft', 'timeo=100', 'retrans=3', ...(url.url.port ? [`port=${url.port}`] : [])];
  return {
    attempts: [{ fstype: 'nfs', device: `${host}:/${segments.slice(0, -1).join('/')}`, options }],
    file: segments[segments.length - 1]!,
    writable: false,
  };
}

/** mount.cifs reads user, password and domain from a file (0600, removed right after the mount):
 *  no escaping of commas in -o, and nothing in argv or the environment. */
async function writeCifsCredentials(file: string, creds: Credentials): Promise<string> {
  // "DOMAIN\user" or "DOMAIN/user" names the domain
  const m = /^([^\\/]+)[\\/](.+)$/.exec(creds.user);
  const head = m ? `username=${m[2]}\ndomain=${m[1]}\n` : `username=${creds.user}\n`;
  const content = Buffer.concat([Buffer.from(`${head}password=`), creds.password, Buffer.from('\n')]);
  await rm(file, { force: true }); // left by a crash
  const handle = await open(file, 'wx', 0o600);
  try {
    await handle.writeFile(content);
  } finally {
    content.fill(0);
    await handle.close();
  }
  return file;
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new MountError('EINVAL', `bad %-encoding in the URL path: ${s}`);
  }
}
