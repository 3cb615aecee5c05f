// `vmedia user add|passwd|del|list`: the users of the web frontend (its --users file; scrypt
// hashes, one Redfish role each). Passwords come from a file, standard input or a prompt, never
// argv, and are never printed. The web reads the file when it starts: restart it to apply.
import type { Argv, CommandModule } from 'yargs';
import { hashPassword } from '../web/auth/passwords.js';
import { ROLES, UserDirectory, userNameProblem, type Role } from '../web/auth/users.js';
import { CliError, EXIT, runOperatorCommand, usageFailure } from './operator-exit.js';
import { readSecret } from './secret-input.js';
import { readUsersFile, withUsersFileLock, writeUsersFile, type UsersTable } from './users-file.js';

/** bmcweb's AccountService MinPasswordLength. */
const MIN_PASSWORD_LENGTH = 8;
const DEFAULT_USERS_FILE = '/etc/vmedia/users.json';
const APPLY_NOTE = 'restart the web frontend to apply (systemctl restart vmedia-web)';

interface UsersArgs {
  users: string;
}
interface NameArgs extends UsersArgs {
  name: string;
}
interface PasswordArgs extends NameArgs {
  'password-file'?: string;
}
interface AddArgs extends PasswordArgs {
  role: Role;
}
interface ListArgs extends UsersArgs {
  json: boolean;
}

function checkedName(name: string): string {
  const problem = userNameProblem(name);
  if (problem) throw new CliError(EXIT.invalid, `bad user name ${JSON.stringify(name)}: ${problem}`);
  return name;
}

async function newPasswordHash(args: PasswordArgs): Promise<string> {
  const password = await readSecret({
    file: args['password-file'],
    prompt: `new password for ${args.name}`,
    confirm: true,
  });
  if ([...password].length < MIN_PASSWORD_LENGTH)
    throw new CliError(EXIT.invalid, `the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\x00-\x1f\x7f]/.test(password))
    throw new CliError(EXIT.invalid, 'the password must not contain control characters');
  return hashPassword(password);
}

function existingUsers(file: string): UsersTable {
  const users = readUsersFile(file);
  if (!users) throw new CliError(EXIT.invalid, `no users file ${file} (vmedia user add creates it)`);
  return users;
}

function assertAbsent(users: UsersTable, name: string, file: string): void {
  if (Object.hasOwn(users, name)) throw new CliError(EXIT.invalid, `user ${name} exists already in ${file}`);
}

function assertPresent(users: UsersTable, name: string, file: string): void {
  if (!Object.hasOwn(users, name)) throw new CliError(EXIT.invalid, `no user ${name} in ${file}`);
}

async function addUser(args: AddArgs): Promise<void> {
  const name = checkedName(args.name);
  // checked before asking for the password, and again under the lock
  assertAbsent(readUsersFile(args.users) ?? {}, name, args.users);
  const hash = await newPasswordHash(args);
  await withUsersFileLock(args.users, () => {
    const users = readUsersFile(args.users) ?? {};
    assertAbsent(users, name, args.users);
    writeUsersFile(args.users, { ...users, [name]: { Role: args.role, PasswordHash: hash } });
  });
  process.stdout.write(`added ${name} (${args.role}) to ${args.users}; ${APPLY_NOTE}\n`);
}

async function changePassword(args: PasswordArgs): Promise<void> {
  const name = checkedName(args.name);
  assertPresent(existingUsers(args.users), name, args.users);
  const hash = await newPasswordHash(args);
  await withUsersFileLock(args.users, () => {
    const users = existingUsers(args.users);
    assertPresent(users, name, args.users);
    writeUsersFile(args.users, { ...users, [name]: { ...users[name]!, PasswordHash: hash } });
  });
  process.stdout.write(`changed the password of ${name} in ${args.users}; ${APPLY_NOTE}\n`);
}

async function deleteUser(args: NameArgs): Promise<void> {
  const name = checkedName(args.name);
  assertPresent(existingUsers(args.users), name, args.users);
  await withUsersFileLock(args.users, () => {
    const users = existingUsers(args.users);
    assertPresent(users, name, args.users);
    const rest = Object.fromEntries(Object.entries(users).filter(([n]) => n !== name));
    // the web refuses to start with a users file that has no users
    if (Object.keys(rest).length === 0)
      throw new CliError(EXIT.invalid, `${name} is the last user of ${args.users}; add another first`);
    writeUsersFile(args.users, rest);
  });
  process.stdout.write(`deleted ${name} from ${args.users}; ${APPLY_NOTE}\n`);
}

function listUsers(args: ListArgs): Promise<void> {
  existingUsers(args.users);
  const users = UserDirectory.fromFile(args.users).list();
  const lines = args.json ? [JSON.stringify(users, null, 2)] : users.map((u) => `${u.name}\t${u.role}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return Promise.resolve();
}

function usersOption<T>(y: Argv<T>): Argv<T & UsersArgs> {
  return y
    .option('users', { type: 'string', default: DEFAULT_USERS_FILE, describe: "the web's users file (--users)" })
    .fail(usageFailure('user'));
}

function nameArgument<T>(y: Argv<T>): Argv<T & UsersArgs & { name: string }> {
  return usersOption(y).positional('name', { type: 'string', demandOption: true, describe: 'the user name' });
}

function passwordOption<T>(y: Argv<T>): Argv<T & UsersArgs & { name: string; 'password-file'?: string }> {
  return nameArgument(y).option('password-file', {
    type: 'string',
    describe: 'file holding the new password (else standard input, else a prompt, twice)',
  });
}

const subcommands: CommandModule<object, never>[] = [
  {
    command: 'add <name>',
    describe: 'add a user with a role and a password',
    builder: (y) =>
      passwordOption(y).option('role', {
        choices: ROLES,
        demandOption: true,
        describe: 'Redfish role',
      }) as Argv<never>,
    handler: (args: AddArgs) => runOperatorCommand('user add', () => addUser(args)),
  },
  {
    command: 'passwd <name>',
    describe: "change a user's password",
    builder: (y) => passwordOption(y) as Argv<never>,
    handler: (args: PasswordArgs) => runOperatorCommand('user passwd', () => changePassword(args)),
  },
  {
    command: 'del <name>',
    describe: 'delete a user',
    builder: (y) => nameArgument(y) as Argv<never>,
    handler: (args: NameArgs) => runOperatorCommand('user del', () => deleteUser(args)),
  },
  {
    command: 'list',
    describe: 'list the users and their roles (never a hash)',
    builder: (y) =>
      usersOption(y).option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as Argv<never>,
    handler: (args: ListArgs) => runOperatorCommand('user list', () => listUsers(args)),
  },
];

export const userCommand: CommandModule = {
  command: 'user',
  describe: "manage the web frontend's users file",
  builder: (y) =>
    subcommands
      .reduce((cli, c) => cli.command(c), y)
      .demandCommand(1)
      .fail(usageFailure('user')),
  handler: () => {},
};
