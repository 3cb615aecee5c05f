// Password hashes for the users file: scrypt with its parameters in the string, so they can be
// raised later without invalidating existing hashes. Format: $scrypt$N=..,r=..,p=..$salt$hash (base64).
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const KEY_LENGTH = 32;
/** 32 MiB of memory per check: costly for a guesser, still fine on a BMC's CPU. */
const DEFAULT_PARAMS = { N: 32768, r: 8, p: 1 };

function scrypt(password: string, salt: Buffer, params: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, KEY_LENGTH, { ...params, maxmem: 256 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, DEFAULT_PARAMS);
  const { N, r, p } = DEFAULT_PARAMS;
  return `$scrypt$N=${N},r=${r},p=${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

interface ParsedHash {
  params: ScryptOptions;
  salt: Buffer;
  key: Buffer;
}

/** Throws with a reason when the string is not a hash this module writes. */
export function parsePasswordHash(hash: string): ParsedHash {
  const m = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(hash);
  if (!m) throw new Error('not a $scrypt$N=..,r=..,p=..$salt$hash string');
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (N < 2 || (N & (N - 1)) !== 0) throw new Error('scrypt N must be a power of two');
  const key = Buffer.from(m[5]!, 'base64');
  if (key.length < 16) throw new Error('scrypt hash is too short');
  return { params: { N, r, p }, salt: Buffer.from(m[4]!, 'base64'), key };
}

export async function verifyPassword(password: string, hash: ParsedHash): Promise<boolean> {
  const candidate = await scrypt(password, hash.salt, hash.params).catch(() => undefined);
  return candidate !== undefined && candidate.length === hash.key.length && timingSafeEqual(candidate, hash.key);
}
