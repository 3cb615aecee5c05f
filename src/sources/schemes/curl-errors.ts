// What went wrong with an HTTP(S) source, from what nbdkit's curl plugin wrote to stderr (libcurl
// names the cause there and nowhere else): each cause gets its own errno and a message that names it.
import type { MountError } from '../../errno.js';
import { causeInStderr, type StderrCause } from '../nbdkit/stderr-causes.js';

// Ordered: the first match wins. Texts are libcurl's (CURLE_* strerror and detail lines).
const CAUSES: StderrCause<void>[] = [
  {
    test: /returned error: 401\b/,
    errno: 'EACCES',
    message: () => 'the image server refused the credentials (HTTP 401)',
  },
  {
    test: /returned error: 403\b/,
    errno: 'EPERM',
    message: () => 'the image server forbids access to the image (HTTP 403)',
  },
  { test: /Login denied|Access denied: 530/, errno: 'EACCES', message: () => 'the FTP server refused the login' },
  { test: /Remote file not found/, errno: 'ENOENT', message: () => 'the image does not exist on the server' },
  {
    test: /returned error: (404|410)\b/,
    errno: 'ENOENT',
    message: (m) => `the image does not exist on the server (HTTP ${m[1]})`,
  },
  { test: /returned error: (\d{3})\b/, errno: 'EIO', message: (m) => `the image server answered HTTP ${m[1]}` },
  {
    test: /does not support 'range'/,
    errno: 'ESPIPE',
    message: () => 'the image server does not support Range requests (needed to read parts of the image)',
  },
  {
    test: /Could not resolve host|Couldn't resolve host/,
    errno: 'EHOSTUNREACH',
    message: () => "the image server's host name does not resolve",
  },
  {
    test: /No route to host|Network is unreachable|Host is unreachable/i,
    errno: 'EHOSTUNREACH',
    message: () => 'the image server is unreachable',
  },
  {
    test: /Connection refused|Couldn't connect to server/,
    errno: 'ECONNREFUSED',
    message: () => 'the image server refused the connection (nothing listens on that port)',
  },
  {
    test: /Timeout was reached|timed out/i,
    errno: 'ETIMEDOUT',
    message: () => 'the image server did not answer in time',
  },
  {
    test: /certificate verification failed|SSL certificate problem|peer certificate|unable to get local issuer|self.signed/i,
    errno: 'EKEYREJECTED',
    message: () => "the image server's TLS certificate is not trusted (add its CA to the trust store)",
  },
  {
    test: /Recv failure|Send failure|Connection reset|transfer closed|Server returned nothing|partial file|Failure when receiving/i,
    errno: 'ECONNRESET',
    message: () => 'the image server dropped the connection mid-transfer',
  },
  // the SSRF guard's relay answered curl's SOCKS request with this reply code (guards/socks5.ts)
  {
    test: /Can't complete SOCKS5 connection to (\S+)\. \(2\)/,
    errno: 'EINVAL',
    message: (m) => `the SSRF guard refused a connection to ${m[1]} (AllowPrivateSourceHosts)`,
  },
  {
    test: /Can't complete SOCKS5 connection to (\S+)\. \(4\)/,
    errno: 'EHOSTUNREACH',
    message: (m) => `${m[1]} does not resolve or is unreachable`,
  },
  {
    test: /Can't complete SOCKS5 connection to (\S+)\. \(\d+\)/,
    errno: 'ECONNREFUSED',
    message: (m) => `the connection to ${m[1]} failed`,
  },
  { test: /SSL|TLS|handshake/i, errno: 'EPROTO', message: () => 'the TLS handshake with the image server failed' },
];

/** The cause named in nbdkit's stderr, or undefined when nothing there is recognised. */
export function classifyCurlFailure(stderr: string): MountError | undefined {
  return causeInStderr(stderr, CAUSES, undefined);
}
