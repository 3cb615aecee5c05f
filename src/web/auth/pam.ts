// The BMC's own users, checked through PAM as bmcweb checks them (`vmedia web --auth pam`): the
// PAM conversation runs in `pamtester SERVICE USER authenticate acct_mgmt`, whose prompt reads
// the password from its stdin, which is a pipe only we write to (never argv, never the
// environment). The Redfish role comes from the user's groups, as phosphor-user-manager grants
// them: priv-admin, priv-operator, priv-user (priv-readonly on newer images). A user in none of
// them may not log in.
//
// As a non-root user (vmedia-web.service), pam_unix can check only the caller's own password
// through unix_chkpwd; for other users it must read /etc/shadow itself, so the web then needs
// read access to it (SupplementaryGroups=shadow where the image has that group, see
// docs/openbmc-integration.md).
import type { ProcessRunner } from '../../process/runner.js';
import type { Role, UserSource } from './users.js';

/** phosphor-user-manager's privilege groups → Redfish roles, strongest first. */
const PRIVILEGE_GROUPS: readonly [string, Role][] = [
  ['priv-admin', 'Administrator'],
  ['priv-operator', 'Operator'],
  ['priv-user', 'ReadOnly'],
  ['priv-readonly', 'ReadOnly'],
];

/** Linux user names as useradd takes them by default; never starting with "-" (an option to pamtester). */
const USER_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
/** A PAM service is a file name in /etc/pam.d. */
const SERVICE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;
/** pam_unix waits ~2 s after a failure; a hung PAM module must not hold a login slot forever. */
const PAM_TIMEOUT_MS = 20_000;

export function roleOfGroups(groups: readonly string[]): Role | undefined {
  return PRIVILEGE_GROUPS.find(([group]) => groups.includes(group))?.[1];
}

export class PamUsers implements UserSource {
  constructor(
    private readonly runner: ProcessRunner,
    readonly service: string,
  ) {
    if (!SERVICE_NAME.test(service))
      throw new Error(`PAM service ${JSON.stringify(service)}: not a file name of /etc/pam.d`);
  }

  /** Any valid name may be a BMC user: PAM decides (and takes as long for an unknown one). */
  has(name: string): boolean {
    return USER_NAME.test(name);
  }

  /** PAM's users are managed on the BMC (phosphor-user-manager), not listed here. */
  list(): { name: string; role: Role }[] {
    return [];
  }

  async verify(name: string, password: string): Promise<Role | undefined> {
    if (!USER_NAME.test(name) || password.includes('\n') || password.includes('\0')) return undefined;
    if (!(await this.authenticate(name, password))) return undefined;
    const groups = await this.runner.run('id', ['-Gn', '--', name], { timeoutMs: PAM_TIMEOUT_MS, onLine: () => {} });
    if (groups.code !== 0) return undefined;
    return roleOfGroups(groups.stdout.trim().split(/\s+/));
  }

  /** pamtester reads the password at its prompt from fd 0: our pipe (fd 3 of the shell, moved there). */
  private async authenticate(name: string, password: string): Promise<boolean> {
    const pam = await this.runner.start(
      '/bin/sh',
      ['-c', 'exec pamtester "$0" "$1" authenticate acct_mgmt 0<&3 3<&-', this.service, name],
      { pipes: 1, timeoutMs: PAM_TIMEOUT_MS, onLine: () => {} },
    );
    const input = pam.pipe(3);
    input.on('error', () => {
      /* pamtester gone before reading (bad service): its exit code says so */
    });
    input.end(`${password}\n`);
    const exit = await pam.exited;
    return exit.code === 0;
  }
}
