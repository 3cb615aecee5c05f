// Parses and checks the URL of a Legacy Mount: only the schemes we can serve, a host, a path,
// no credentials in the URL (they would end up in argv and logs), no control characters; the
// login of an sftp:// URL is split off first (it is not a secret).
import { MountError } from '../../errno.js';
import { redactUrl } from '../../log.js';

export interface SourceUrl {
  /** Lower-case scheme without ':' (e.g. "https"). */
  scheme: string;
  url: URL;
  /** Host name or address without IPv6 brackets. */
  host: string;
  port: number;
  /** The URL with any query string removed: safe to log (presigned URLs carry tokens there). */
  redacted: string;
}

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443, ftp: 21, sftp: 22, smb: 445, nfs: 2049 };
const MAX_URL_LENGTH = 8192;

export function parseSourceUrl(text: string, schemes: readonly string[]): SourceUrl {
  if (text.length === 0) throw new MountError('EINVAL', 'the image URL is empty');
  if (text.length > MAX_URL_LENGTH)
    throw new MountError('EINVAL', `the image URL is longer than ${MAX_URL_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f]/.test(text))
    throw new MountError('EINVAL', 'the image URL contains spaces or control characters (percent-encode them)');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new MountError('EINVAL', 'the image URL is not a valid URL');
  }
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  if (!schemes.includes(scheme)) {
    const supported = schemes.length > 0 ? schemes.join(', ') : 'none on this machine';
    throw new MountError('EINVAL', `URL scheme "${scheme}" is not supported (supported: ${supported})`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new MountError('EINVAL', 'the image URL must not contain credentials: pass them as UserName/Password');
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new MountError('EINVAL', 'the image URL has no host');
  if (url.pathname === '' || url.pathname === '/') throw new MountError('EINVAL', 'the image URL names no file');
  const port = url.port !== '' ? Number(url.port) : (DEFAULT_PORTS[scheme] ?? 0);
  return {
    scheme,
    url,
    host,
    port,
    redacted: redactUrl(url),
  };
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/** True when the text (a user name or path decoded from a URL) holds a control character. */
export function hasControlCharacter(text: string): boolean {
  return CONTROL.test(text);
}

/**
 * sftp://user@host/... names the login (not a secret; the common way to write these URLs), which
 * the shared URL check refuses as credentials: split it off. Other URLs, and a user:password
 * userinfo (refused by that check), come back unchanged.
 */
export function takeSftpUrlUser(text: string): { text: string; user?: string } {
  const m = /^(sftp:\/\/)([^/?#]*)@/i.exec(text);
  if (!m || m[2]!.includes(':')) return { text };
  let user: string;
  try {
    user = decodeURIComponent(m[2]!);
  } catch {
    throw new MountError('EINVAL', 'the user name in the image URL is not valid percent-encoding');
  }
  if (hasControlCharacter(user))
    throw new MountError('EINVAL', 'the user name in the image URL contains control characters');
  const rest = m[1] + text.slice(m[0].length);
  return user === '' ? { text: rest } : { text: rest, user };
}
