// Bearer tokens with roles. The tokens file lists each token's name, role, sha256 (the gateway
// never stores a token itself) and optional groups (for per-image grants):
// {"Tokens":[{"Name":"ironic","Role":"operator","Sha256":"<hex>","Groups":["provisioning"]}]}.
// Every request needs a token (401 without one or with an unknown one); each route names the
// least role it needs (403 below it). Failed attempts are limited per source address (429).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { sha256Hex } from '../attachments/access.js';
import { GatewayError } from '../errors.js';
import { ROLES, type Role } from '../types.js';
import { addressKey, sourceAddress, tooManyRequests, type RateLimiter } from './rate-limit.js';

export interface Caller {
  name: string;
  role: Role;
  /** Groups an image may be granted to (`group:<name>`). */
  groups: readonly string[];
}

export type TokenTable = Map<string, Caller>;

const GROUP = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The table from a tokens file; a malformed entry stops the gateway with its index and reason. */
export function loadTokens(file: string): TokenTable {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { Tokens?: unknown };
  if (!Array.isArray(parsed.Tokens)) throw new Error(`${file}: "Tokens" must be a list`);
  const table: TokenTable = new Map();
  parsed.Tokens.forEach((t: Record<string, unknown>, i) => {
    if (typeof t.Name !== 'string' || t.Name === '') throw new Error(`${file}: Tokens[${i}].Name: a non-empty string`);
    if (!ROLES.includes(t.Role as Role)) throw new Error(`${file}: Tokens[${i}].Role: one of ${ROLES.join(', ')}`);
    if (typeof t.Sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(t.Sha256))
      throw new Error(`${file}: Tokens[${i}].Sha256: 64 lower-case hex digits`);
    const groups = t.Groups ?? [];
    if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string' && GROUP.test(g)))
      throw new Error(`${file}: Tokens[${i}].Groups: a list of names (letters, digits, ".", "_", "-")`);
    table.set(t.Sha256, { name: t.Name, role: t.Role as Role, groups: groups as string[] });
  });
  return table;
}

/** Without a tokens file: one admin token, generated once into `file` (0600), for a development gateway. */
export function adminTokenFile(file: string): TokenTable {
  if (!existsSync(file)) {
    // the first start: the state dir may not exist yet
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  }
  return new Map([
    [sha256Hex(readFileSync(file, 'utf8').trim()), { name: 'admin', role: 'admin' as const, groups: [] }],
  ]);
}

export function caller(res: Response): Caller {
  return res.locals.caller as Caller;
}

/** Checks the bearer token; each failure spends one of `failures` for the source address, and an
 * address with none left is refused before its token is looked at. */
export function authenticate(tokens: TokenTable, failures: RateLimiter) {
  return (req: Request, res: Response, next: NextFunction) => {
    const address = addressKey(sourceAddress(req));
    const wait = failures.wait(address);
    if (wait > 0) throw tooManyRequests(res, wait, 'too many failed authentications from this address');
    const m = /^Bearer ([\x21-\x7e]{16,512})$/.exec(req.headers.authorization ?? '');
    const found = m ? tokens.get(sha256Hex(m[1]!)) : undefined;
    if (!found) {
      failures.take(address);
      res.setHeader('WWW-Authenticate', 'Bearer realm="vmedia gateway"');
      throw new GatewayError(401, 'Unauthorized', m ? 'the bearer token is not valid' : 'a bearer token is required');
    }
    res.locals.caller = found;
    next();
  };
}

/** Lets the request through when the caller's role is `least` or above. */
export function requireRole(least: Role) {
  return (_req: Request, res: Response, next: NextFunction) => {
    const { role, name } = caller(res);
    if (ROLES.indexOf(role) < ROLES.indexOf(least))
      throw new GatewayError(403, 'Forbidden', `${name} is ${role}; this needs ${least}`);
    next();
  };
}
