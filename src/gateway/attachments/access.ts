// Per-attachment access to the media server: an unguessable token in the URL and a password the
// BMC sends as Basic auth (InsertMedia UserName/Password). A BMC's ReadOnly user can read the
// `Image` property, so the URL alone opens nothing; the password is never readable over Redfish.
// The database keeps only sha256 of both.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface MediaAccess {
  token: string;
  username: string;
  password: string;
  tokenHash: string;
  passwordHash: string;
}

export const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

export const attachmentUser = (attachmentId: string) => `gw-${attachmentId.slice(0, 8)}`;

export function newMediaAccess(attachmentId: string): MediaAccess {
  const token = randomBytes(32).toString('base64url');
  const password = randomBytes(24).toString('base64url');
  return {
    token,
    username: attachmentUser(attachmentId),
    password,
    tokenHash: sha256Hex(token),
    passwordHash: sha256Hex(password),
  };
}

export const mediaUrl = (base: string, token: string, imageName: string) =>
  `${base.replace(/\/$/, '')}/media/${token}/${encodeURIComponent(imageName)}`;

/** The token of one of our media URLs (any gateway's), or undefined for another URL. */
export function tokenOfMediaUrl(url: string): string | undefined {
  try {
    return /^\/media\/([A-Za-z0-9_-]{43})\/[^/]+$/.exec(new URL(url).pathname)?.[1];
  } catch {
    return undefined;
  }
}

/** Does `url` carry the token whose hash is `tokenHash`? */
export function urlHasToken(url: string, tokenHash: string | null): boolean {
  const token = tokenOfMediaUrl(url);
  return token !== undefined && tokenHash !== null && sha256Hex(token) === tokenHash;
}

export function passwordMatches(password: string, passwordHash: string | null): boolean {
  if (passwordHash === null) return false;
  return timingSafeEqual(Buffer.from(sha256Hex(password), 'hex'), Buffer.from(passwordHash, 'hex'));
}
