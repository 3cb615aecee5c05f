// `vmedia user`: the users file the web reads, written by the command an operator runs: checked
// with the web's own loader and password check, 0600 when new, owner mode kept when replaced,
// never a password in the output, a lock so concurrent changes all land, and every refusal's exit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UserDirectory } from '../../src/web/auth/users.js';
import { expectExit, vmediaOnTerminal } from './helpers/run-cli.js';

let dir: string;
let users: string;
const PASSWORD = 'first-Pass-1';

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'vmedia-cli-user-'));
  users = path.join(dir, 'etc', 'users.json');
});

after(() => rmSync(dir, { recursive: true, force: true }));

function secretFile(name: string, content: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, content, { mode: 0o600 });
  return file;
}

async function verify(name: string, password: string): Promise<string | undefined> {
  return UserDirectory.fromFile(users).verify(name, password);
}

test('user add creates the file 0600 with a hash the web accepts; the password is nowhere in the output', async () => {
  const pw = secretFile('pw', `${PASSWORD}\n`);
  const r = await expectExit(0, [
    'user',
    'add',
    'admin',
    '--role',
    'Administrator',
    '--users',
    users,
    '--password-file',
    pw,
  ]);
  assert.match(r.stdout, /added admin \(Administrator\)/);
  assert.equal(statSync(users).mode & 0o777, 0o600);
  assert.equal(await verify('admin', PASSWORD), 'Administrator', 'the trailing newline is not part of the password');
  const text = readFileSync(users, 'utf8');
  for (const where of [r.stdout, r.stderr, text]) assert.ok(!where.includes(PASSWORD));
  assert.match(text, /"PasswordHash": "\$scrypt\$N=32768,r=8,p=1\$/);
});

test('concurrent adds (password on stdin) all land, atomically, and leave no temp or lock file', async () => {
  const names = ['op1', 'op2', 'op3'];
  await Promise.all(
    names.map((n) =>
      expectExit(0, ['user', 'add', n, '--role', 'Operator', '--users', users], { stdin: `${n}-password\n` }),
    ),
  );
  for (const n of names) assert.equal(await verify(n, `${n}-password`), 'Operator');
  assert.deepEqual(readdirSync(path.dirname(users)), ['users.json']);
});

test('user list prints names and roles, never a hash; --json for scripts', async () => {
  const [plain, json] = await Promise.all([
    expectExit(0, ['user', 'list', '--users', users]),
    expectExit(0, ['user', 'list', '--users', users, '--json']),
  ]);
  assert.equal(plain.stdout, 'admin\tAdministrator\nop1\tOperator\nop2\tOperator\nop3\tOperator\n');
  assert.deepEqual(JSON.parse(json.stdout), [
    { name: 'admin', role: 'Administrator' },
    { name: 'op1', role: 'Operator' },
    { name: 'op2', role: 'Operator' },
    { name: 'op3', role: 'Operator' },
  ]);
});

test('user passwd replaces the hash and keeps the role, owner and mode (never any bit for others)', async () => {
  chmodSync(users, 0o644);
  await expectExit(0, ['user', 'passwd', 'op1', '--users', users], { stdin: 'changed-password' });
  assert.equal(await verify('op1', 'changed-password'), 'Operator');
  assert.equal(await verify('op1', 'op1-password'), undefined);
  assert.equal(statSync(users).mode & 0o777, 0o640);
});

test('user del removes a user; the last one cannot go (the web refuses a file without users)', async () => {
  for (const n of ['op1', 'op2', 'op3']) await expectExit(0, ['user', 'del', n, '--users', users]);
  assert.deepEqual(
    UserDirectory.fromFile(users)
      .list()
      .map((u) => u.name),
    ['admin'],
  );
  const last = await expectExit(2, ['user', 'del', 'admin', '--users', users]);
  assert.match(last.stderr, /admin is the last user/);
});

test('every refusal exits 2 with its reason and leaves the file as it was', async () => {
  const before = readFileSync(users, 'utf8');
  const pw = secretFile('ok-pw', PASSWORD);
  const corrupt = secretFile('corrupt.json', '{"Users": {"x": {"Role": "King", "PasswordHash": "nope"}}}');
  const cases: [string[], RegExp, string?][] = [
    [['user', 'add', 'admin', '--role', 'ReadOnly', '--users', users, '--password-file', pw], /admin exists already/],
    [['user', 'add', 'bad name', '--role', 'ReadOnly', '--users', users, '--password-file', pw], /user names are 1-64/],
    [['user', 'add', 'x', '--role', 'King', '--users', users, '--password-file', pw], /Invalid values/],
    [['user', 'add', 'x', '--users', users, '--password-file', pw], /Missing required argument: role/],
    [['user', 'add', 'x', '--role', 'ReadOnly', '--users', users], /at least 8 characters/, 'short'],
    [['user', 'add', 'x', '--role', 'ReadOnly', '--users', users], /empty password/, '\n'],
    [['user', 'add', 'x', '--role', 'ReadOnly', '--users', users, '--password-file', path.join(dir, 'none')], /ENOENT/],
    [['user', 'add', 'x', '--role', 'ReadOnly', '--users', users, '--password-file', dir], /is a directory/],
    [['user', 'passwd', 'ghost', '--users', users, '--password-file', pw], /no user ghost/],
    [['user', 'del', 'ghost', '--users', users], /no user ghost/],
    [['user', 'list', '--users', path.join(dir, 'missing.json')], /no users file/],
    [['user', 'list', '--users', corrupt], /Users\.x\.Role: must be one of/],
    [['user', 'frobnicate'], /Unknown argument: frobnicate/],
  ];
  await Promise.all(
    cases.map(async ([args, reason, stdin]) => {
      const r = await expectExit(2, args, stdin === undefined ? {} : { stdin });
      assert.match(r.stderr, reason, args.join(' '));
    }),
  );
  assert.equal(readFileSync(users, 'utf8'), before);
});

test('on a terminal, the password is asked twice without echo', async () => {
  const file = path.join(dir, 'tty-users.json');
  const password = 'typed-at-the-terminal';
  const r = await vmediaOnTerminal(
    ['user', 'add', 'typist', '--role', 'ReadOnly', '--users', file],
    [
      [/new password for typist: $/, password],
      [/new password for typist \(again\): $/, password],
    ],
  );
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /added typist \(ReadOnly\)/);
  assert.ok(!r.stdout.includes(password), `the terminal echoed the password:\n${r.stdout}`);
  assert.equal(await UserDirectory.fromFile(file).verify('typist', password), 'ReadOnly');
});
