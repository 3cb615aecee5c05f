// Who may log in: a users file with scrypt hashes and a Redfish role per user, or (development
// default) the single admin `root` whose password comes from VMEDIA_PASSWORD or is generated
// once and kept 0600 in the runtime dir. The password is never logged, only where it is.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, chmodSync, statSync } from 'node:fs';
import path from 'node:path';
import { hashPassword, parsePasswordHash, verifyPassword } from './passwords.js';

export type Role = 'Administrator' | 'Operator' | 'ReadOnly';
export const ROLES: readonly Role[] = ['Administrator', 'Operator', 'ReadOnly'];

/** Redfish privileges (DSP8011 PrivilegeType) granted by each standard role. */
export type Privilege = 'Login' | 'ConfigureManager' | 'ConfigureUsers' | 'ConfigureSelf' | 'ConfigureComponents';
const ROLE_PRIVILEGES: Record<Role, readonly Privilege[]> = {
  Administrator: ['Login', 'ConfigureManager', 'ConfigureUsers', 'ConfigureSelf', 'ConfigureComponents'],
  Operator: ['Login', 'ConfigureSelf', 'ConfigureComponents'],
  ReadOnly: ['Login', 'ConfigureSelf'],
};

export function roleHas(role: Role, privilege: Privilege): boolean {
  return ROLE_PRIVILEGES[role].includes(privilege);
}

export function privilegesOf(role: Role): readonly Privilege[] {
  return ROLE_PRIVILEGES[role];
}

/** Why a user name is refused, or undefined when the users file accepts it. */
export function userNameProblem(name: string): string | undefined {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(name) ? undefined : 'user names are 1-64 of [A-Za-z0-9_.-]';
}

interface UserRecord {
  role: Role;
  hash: ReturnType<typeof parsePasswordHash>;
}

/** Who may log in and with which role: the users file (UserDirectory) or the BMC's users (PamUsers). */
export interface UserSource {
  /** False when the name cannot be a user: the login then fails without a check. */
  has(name: string): boolean;
  /** Resolves to the user's role when the password matches, else undefined. */
  verify(name: string, password: string): Promise<Role | undefined>;
  /** Every user's name and role that AccountService lists (never a hash). */
  list(): { name: string; role: Role }[];
}

export class UserDirectory implements UserSource {
  private constructor(private readonly users: ReadonlyMap<string, UserRecord>) {}

  has(name: string): boolean {
    return this.users.has(name);
  }

  /** Every user's name and role, by name (never a hash). */
  list(): { name: string; role: Role }[] {
    return [...this.users].map(([name, { role }]) => ({ name, role })).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Resolves to the user's role when the password matches, else undefined (same time either way). */
  async verify(name: string, password: string): Promise<Role | undefined> {
    const user = this.users.get(name);
    const ok = await verifyPassword(password, user?.hash ?? DUMMY_HASH);
    return ok && user ? user.role : undefined;
  }

  /**
   * The users file, JSON: {"Users": {"<name>": {"Role": "Administrator|Operator|ReadOnly",
   * "PasswordHash": "$scrypt$..."}}}. Any bad entry fails loading with its key path.
   */
  static fromFile(file: string): UserDirectory {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`users file ${file}: ${(err as Error).message}`);
    }
    const users = new Map<string, UserRecord>();
    const root = raw as { Users?: unknown };
    if (typeof raw !== 'object' || raw === null || typeof root.Users !== 'object' || root.Users === null) {
      throw new Error(`users file ${file}: expected {"Users": {"<name>": {"Role": ..., "PasswordHash": ...}}}`);
    }
    for (const [name, entry] of Object.entries(root.Users as Record<string, unknown>)) {
      const where = `users file ${file}: Users.${name}`;
      const nameProblem = userNameProblem(name);
      if (nameProblem) throw new Error(`${where}: ${nameProblem}`);
      const e = entry as { Role?: unknown; PasswordHash?: unknown };
      if (!ROLES.includes(e?.Role as Role)) throw new Error(`${where}.Role: must be one of ${ROLES.join(', ')}`);
      if (typeof e.PasswordHash !== 'string') throw new Error(`${where}.PasswordHash: must be a string`);
      try {
        users.set(name, { role: e.Role as Role, hash: parsePasswordHash(e.PasswordHash) });
      } catch (err) {
        throw new Error(`${where}.PasswordHash: ${(err as Error).message}`);
      }
    }
    if (users.size === 0) throw new Error(`users file ${file}: no users`);
    return new UserDirectory(users);
  }

  /** The development default: `root` (Administrator, as on OpenBMC). */
  static async defaultAdmin(
    runtimeDir: string,
    env = process.env,
  ): Promise<{ users: UserDirectory; passwordSource: string }> {
    let password = env.VMEDIA_PASSWORD;
    let passwordSource = 'the VMEDIA_PASSWORD environment variable';
    if (!password) {
      const file = path.join(runtimeDir, 'web-password');
      passwordSource = file;
      if (existsSync(file)) {
        if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
        password = readFileSync(file, 'utf8').trim();
      }
      if (!password) {
        password = randomBytes(18).toString('base64url');
        writeFileSync(file, `${password}\n`, { mode: 0o600 });
      }
    }
    const hash = parsePasswordHash(await hashPassword(password));
    return { users: new UserDirectory(new Map([[DEFAULT_ADMIN, { role: 'Administrator', hash }]])), passwordSource };
  }
}

export const DEFAULT_ADMIN = 'root';

/** Checked for unknown users too, so a login's timing does not tell whether the name exists. */
const DUMMY_HASH = parsePasswordHash(
  `$scrypt$N=32768,r=8,p=1$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}`,
);
