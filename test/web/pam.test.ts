// `vmedia web --pam-service`: the BMC's own users log in through PAM (pam_unix, real pamtester),
// with their Redfish role from phosphor-user-manager's priv-* groups. The web runs as the unit's
// PAM drop-in runs it: not root, no capabilities, with the shadow group (pam_unix then reads
// /etc/shadow itself). The users, groups and the PAM service exist only for the web: it runs in a
// private mount namespace where copies of /etc/passwd, /etc/group and /etc/shadow with the test
// users, and a pam.d holding the test service, are bind-mounted over the real ones; this
// machine's files are never touched.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildBundle } from '../../scripts/bundle.js';
import { roleOfGroups } from '../../src/web/auth/pam.js';
import { waitFor } from '../helpers/wait.js';
import { httpsJson, type Credentials } from '../helpers/stack.js';
import { webListening } from '../helpers/web-listening.js';

const SERVICE = 'vmedia-pam-test';
const TRUSTSTORE_CERTS = '/redfish/v1/Managers/bmc/Truststore/Certificates';
const ACCOUNTS = '/redfish/v1/AccountService/Accounts';

/** name, groups (by name), uid: ids far above this machine's users. */
const USERS = [
  { name: 'vmtadmin', groups: ['priv-admin'], uid: 64101 },
  { name: 'vmtoperator', groups: ['priv-operator'], uid: 64102 },
  { name: 'vmtreader', groups: ['priv-user'], uid: 64103 },
  { name: 'vmtnorole', groups: [], uid: 64104 },
];
const GROUPS = [
  { name: 'priv-admin', gid: 64001 },
  { name: 'priv-operator', gid: 64002 },
  { name: 'priv-user', gid: 64003 },
];
const PASSWORD = 'pam-test-Password-1';
/** The unprivileged user the web runs as here (vmedia-web does not exist on this machine). */
const WEB_USER = { name: 'nobody', uid: 65534, gid: 65534 };

let dir: string;
let bus: ChildProcess;
let busAddress: string;
let web: { baseUrl: string; ca: string; output(): string; stop(): Promise<void> };

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vmedia-pam-'));
  chmodSync(dir, 0o755);
  // the web runs as `nobody`, who may not be able to read the checkout (a clone in a 0700 temp
  // dir, as CI's): it runs the production bundle from this world-readable dir instead
  const { entry } = await buildBundle({ outDir: path.join(dir, 'bundle'), full: false, minify: false });
  for (const own of ['web', 'truststore']) {
    mkdirSync(path.join(dir, own));
    chownSync(path.join(dir, own), WEB_USER.uid, WEB_USER.gid);
  }
  // a bus the unprivileged web may join (the tests' private bus admits only its own user)
  const busSocket = path.join(dir, 'bus.sock');
  writeFileSync(
    path.join(dir, 'bus.conf'),
    `<busconfig><type>session</type><auth>EXTERNAL</auth><listen>unix:path=${busSocket}</listen>` +
      '<policy context="default"><allow user="*"/><allow send_destination="*"/><allow receive_sender="*"/><allow own="*"/></policy></busconfig>',
  );
  bus = spawn('dbus-daemon', [`--config-file=${path.join(dir, 'bus.conf')}`, '--nofork', '--nopidfile'], {
    stdio: 'ignore',
  });
  await waitFor('the bus socket', () => existsSync(busSocket), { timeoutMs: 20_000 });
  chmodSync(busSocket, 0o666);
  busAddress = `unix:path=${busSocket}`;
  const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: PASSWORD, encoding: 'utf8' }).trim();
  const etc = (name: string, extra: string[], mode = 0o644) => {
    const file = path.join(dir, name);
    writeFileSync(file, `${readFileSync(`/etc/${name}`, 'utf8').trimEnd()}\n${extra.join('\n')}\n`);
    chmodSync(file, mode);
    return file;
  };
  const passwd = etc(
    'passwd',
    USERS.map((u) => `${u.name}:x:${u.uid}:${u.uid}::/nonexistent:/usr/sbin/nologin`),
  );
  const group = etc('group', [
    ...GROUPS.map(
      (g) =>
        `${g.name}:x:${g.gid}:${USERS.filter((u) => u.groups.includes(g.name))
          .map((u) => u.name)
          .join(',')}`,
    ),
    ...USERS.map((u) => `${u.name}:x:${u.uid}:`),
  ]);
  // as on the machine: root:shadow 0640
  const shadow = etc(
    'shadow',
    USERS.map((u) => `${u.name}:${hash}:19000:0:99999:7:::`),
    0o640,
  );
  chownSync(shadow, 0, Number(execFileSync('getent', ['group', 'shadow'], { encoding: 'utf8' }).split(':')[2]));
  const pamDir = path.join(dir, 'pam.d');
  mkdirSync(pamDir);
  writeFileSync(path.join(pamDir, SERVICE), 'auth required pam_unix.so\naccount required pam_unix.so\n');

  const child = spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group && mount --bind "$3" /etc/shadow && mount --bind "$4" /etc/pam.d && shift 4 && exec setpriv --reuid=nobody --regid=nogroup --groups=shadow --inh-caps=-all --bounding-set=-all --no-new-privs -- "$@"',
      'sh',
      passwd,
      group,
      shadow,
      pamDir,
      process.execPath,
      entry,
      'web',
      '--bus',
      busAddress,
      '--listen',
      '127.0.0.1:0',
      '--pam-service',
      SERVICE,
      '--runtime-dir',
      path.join(dir, 'web'),
      '--truststore',
      path.join(dir, 'truststore'),
    ],
    // its cwd too: a child it starts (pamtester) cannot start in a directory nobody may enter
    { cwd: dir, env: { ...process.env, VMEDIA_LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const listening = await webListening(child, 60_000);
  web = { ...listening, ca: readFileSync(path.join(dir, 'web', 'web-cert.pem'), 'utf8') };
});

after(async () => {
  await web?.stop();
  if (bus && bus.exitCode === null) {
    const exited = new Promise((resolve) => bus.once('close', resolve));
    bus.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

const as = (user: string, password = PASSWORD): Credentials => ({ user, password });
const get = (pathname: string, auth: Credentials) => httpsJson(web.baseUrl, web.ca, pathname, { auth });
/** Adding a trust store CA takes ConfigureManager: Administrator only. An empty body is a 400 past the privilege check. */
const addCa = (auth: Credentials) =>
  httpsJson(web.baseUrl, web.ca, TRUSTSTORE_CERTS, { method: 'POST', auth, body: {} });

test('a BMC user logs in with the PAM password; the role follows the priv-* group', async () => {
  assert.equal((await get(ACCOUNTS, as('vmtadmin'))).status, 200);
  assert.equal((await addCa(as('vmtadmin'))).status, 400);
  assert.equal((await get(ACCOUNTS, as('vmtoperator'))).status, 200);
  assert.equal((await addCa(as('vmtoperator'))).status, 403);
  assert.equal((await get(ACCOUNTS, as('vmtreader'))).status, 200);
  assert.equal((await addCa(as('vmtreader'))).status, 403);
});

test('a wrong password, an unknown user, a user in no priv-* group and a name pamtester would take as an option are 401', async () => {
  for (const auth of [as('vmtadmin', 'wrong'), as('vmtnobody'), as('vmtnorole'), as('-v')]) {
    const res = await get(ACCOUNTS, auth);
    assert.equal(res.status, 401, `${auth.user}: ${res.text}`);
  }
  assert.doesNotMatch(web.output(), new RegExp(PASSWORD), 'the password is never logged');
});

test('roles from groups: the strongest priv-* group wins; none is no role', () => {
  assert.equal(roleOfGroups(['users', 'priv-user', 'priv-admin']), 'Administrator');
  assert.equal(roleOfGroups(['priv-operator', 'priv-readonly']), 'Operator');
  assert.equal(roleOfGroups(['priv-readonly']), 'ReadOnly');
  assert.equal(roleOfGroups(['web', 'redfish', 'ipmi']), undefined);
});
