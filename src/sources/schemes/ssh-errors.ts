// What went wrong with an sftp:// source, from what nbdkit's ssh plugin wrote to stderr (the plugin
// and libssh name the cause there and nowhere else): each cause gets its own errno and a message
// that names it.
import type { MountError } from '../../errno.js';
import { causeInStderr, type StderrCause } from '../nbdkit/stderr-causes.js';

/** What a message may name besides the server's text. */
export interface SshFailureContext {
  /** The known_hosts file the host key was looked up in. */
  knownHosts: string;
}

// Ordered: the first match wins. Texts are nbdkit-ssh-plugin's (1.32) and libssh's (0.10).
const CAUSES: StderrCause<SshFailureContext>[] = [
  {
    test: /host key for server changed/,
    errno: 'EKEYREJECTED',
    message: (_m, c) =>
      `the SFTP server's host key differs from the one in ${c.knownHosts} (a changed server or a man in the middle)`,
  },
  {
    test: /host key is unknown|host key for server was not found|known hosts error/,
    errno: 'EKEYREJECTED',
    message: (_m, c) => `the SFTP server's host key is not in ${c.knownHosts}: add it there to trust the server`,
  },
  {
    test: /all possible authentication methods failed|(password|public key) authentication failed/,
    errno: 'EACCES',
    message: () => 'the SFTP server refused the login (user name or password wrong, or no method nbdkit can use)',
  },
  { test: /SFTP server: No such file/, errno: 'ENOENT', message: () => 'the image does not exist on the SFTP server' },
  {
    test: /SFTP server: Permission denied/,
    errno: 'EPERM',
    message: () => 'the SFTP server does not let this user read the image',
  },
  {
    test: /Failed to resolve hostname/,
    errno: 'EHOSTUNREACH',
    message: () => "the SFTP server's host name does not resolve",
  },
  {
    test: /No route to host|Network is unreachable|Host is unreachable/i,
    errno: 'EHOSTUNREACH',
    message: () => 'the SFTP server is unreachable',
  },
  {
    test: /Connection refused/,
    errno: 'ECONNREFUSED',
    message: () => 'the SFTP server refused the connection (nothing listens on that port)',
  },
  { test: /timeout|timed out/i, errno: 'ETIMEDOUT', message: () => 'the SFTP server did not answer in time' },
  { test: /sftp session/, errno: 'EPROTO', message: () => 'the SSH server offers no SFTP subsystem' },
  {
    test: /Socket error|disconnect|Connection reset|read failed/i,
    errno: 'ECONNRESET',
    message: () => 'the SFTP server dropped the connection',
  },
];

/** The cause named in nbdkit's stderr, or undefined when nothing there is recognised. */
export function classifySshFailure(stderr: string, ctx: SshFailureContext): MountError | undefined {
  return causeInStderr(stderr, CAUSES, ctx);
}
