// Bearer tokens with roles. The tokens file lists each token's name, role and sha256 (the gateway
// never stores a token itself): {"Tokens":[{"Name":"ironic","Role":"operator","Sha256":"<hex>"}]}.
// Every request needs a token (401 without one or with an unknown one); each route names the
// least role it needs (403 below it).
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { NextFunction, Request, Response } from 'express';
import { sha256Hex } from '../attachments/access.js';
import { GatewayError } from '../errors.js';
import { ROLES, type Role } from '../types.js';

export interface Caller {
  name: string;
  role: Role;
}

export type TokenTable = Map<string, Caller>;

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
    table.set(t.Sha256, { name: t.Name, role: t.Role as Role });
  });
  return table;
}

/** Without a tokens file: one admin token, generated once into `file` (0600), for a development gateway. */
export function adminTokenFile(file: string): TokenTable {
  if (!existsSync(file)) writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
  return new Map([[sha256Hex(readFileSync(file, 'utf8').trim()), { name: 'admin', role: 'admin' as const }]]);
}

export function caller(res: Response): Caller {
  return res.locals.caller as Caller;
}

export function authenticate(tokens: TokenTable) {
  return (req: Request, res: Response, next: NextFunction) => {
    const m = /^Bearer ([\x21-\x7e]{16,512})$/.exec(req.headers.authorization ?? '');
    const found = m ? tokens.get(sha256Hex(m[1]!)) : undefined;
    if (!found) {
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
