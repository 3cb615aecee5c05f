// Authentication and authorization of `vmedia web` (in process, on a private bus; the daemon is
// not needed for these): Basic, X-Auth-Token sessions with idle expiry, cookie sessions with the
// XSRF token, roles, failed-login rate limiting, the users file and the default admin.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { hashPassword } from '../../src/web/auth/passwords.js';
import { UserDirectory } from '../../src/web/auth/users.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { httpsJson, type HttpResponse, type RequestOptions } from '../helpers/stack.js';
import { startTestBus, type TestBus } from '../helpers/private-bus.js';

const ADMIN = { user: 'root', password: 'admin-Pa55word' };
const READER = { user: 'reader', password: 'reader-Pa55word' };

describe('web authentication', { timeout: 60_000 }, () => {
  let bus: TestBus;
  let dir: string;
  let web: WebServer;
  let ca: string;
  const logLines: string[] = [];
  const req = (p: string, opts: RequestOptions = {}): Promise<HttpResponse> => httpsJson(web.url, ca, p, opts);
  const errorId = (r: HttpResponse) => r.json?.error?.code as string;

  before(async () => {
    bus = await startTestBus();
    dir = mkdtempSync(path.join(tmpdir(), 'vmedia-auth-'));
    const usersFile = path.join(dir, 'users.json');
    writeFileSync(
      usersFile,
      JSON.stringify({
        Users: {
          [ADMIN.user]: { Role: 'Administrator', PasswordHash: await hashPassword(ADMIN.password) },
          [READER.user]: { Role: 'ReadOnly', PasswordHash: await hashPassword(READER.password) },
        },
      }),
    );
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        logLines.push(chunk.toString());
        cb();
      },
    });
    web = await startWebServer({
      bus: bus.address,
      host: '127.0.0.1',
      port: 0,
      runtimeDir: path.join(dir, 'run'),
      usersFile,
      sessionTimeoutSeconds: 2,
      throttle: {
        freeFailuresPerUser: 2,
        freeFailuresPerPrefix: 50,
        firstDelaySeconds: 30,
        maxDelaySeconds: 30,
        forgetAfterSeconds: 60,
      },
      log: pino({ level: 'debug' }, sink),
    });
    ca = readFileSync(web.certPath, 'utf8');
  });
  after(async () => {
    await web?.close();
    await bus?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the service root without auth and nothing else', async () => {
    const root = await req('/redfish/v1');
    assert.equal(root.status, 200);
    assert.equal(root.json.Links.Sessions['@odata.id'], '/redfish/v1/SessionService/Sessions');
    for (const p of [
      '/redfish/v1/Managers',
      '/redfish/v1/Managers/bmc/VirtualMedia',
      '/redfish/v1/SessionService',
      '/redfish/v1/Managers/bmc/Truststore/Certificates',
      '/redfish/v1/Systems/system/VirtualMedia',
    ]) {
      const r = await req(p);
      assert.equal(r.status, 401, p);
      assert.equal(errorId(r), 'Base.1.19.0.NoValidSession');
      assert.equal(r.headers['www-authenticate'], 'Basic realm="vmedia"');
    }
    const page = await req('/redfish/v1/Managers', { headers: { 'X-Requested-With': 'XMLHttpRequest' } });
    assert.equal(page.headers['www-authenticate'], undefined, 'no browser dialog for the page');
  });

  it('takes Basic auth and refuses a wrong password', async () => {
    assert.equal((await req('/redfish/v1/Managers/bmc', { auth: ADMIN })).status, 200);
    const wrong = await req('/redfish/v1/Managers/bmc', { auth: { user: ADMIN.user, password: 'nope' } });
    assert.equal(wrong.status, 401);
    assert.equal(errorId(wrong), 'Base.1.19.0.ResourceAtUriUnauthorized');
  });

  it('creates, uses, lists and deletes X-Auth-Token sessions; idle ones expire', async () => {
    const created = await req('/redfish/v1/SessionService/Sessions', {
      method: 'POST',
      body: { UserName: ADMIN.user, Password: ADMIN.password },
    });
    assert.equal(created.status, 201);
    const token = created.headers['x-auth-token'] as string;
    const location = created.headers.location as string;
    assert.match(location, /^\/redfish\/v1\/SessionService\/Sessions\/[0-9a-f]+$/);
    assert.equal(created.json.UserName, ADMIN.user);
    assert.ok(!created.text.includes(ADMIN.password) && !created.text.includes(token));
    const headers = { 'X-Auth-Token': token };
    assert.equal((await req('/redfish/v1/Managers', { headers })).status, 200);
    const list = await req('/redfish/v1/SessionService/Sessions', { headers });
    assert.ok(list.json.Members.some((m: { '@odata.id': string }) => m['@odata.id'] === location));
    assert.equal((await req(location, { method: 'DELETE', headers })).status, 204);
    assert.equal((await req('/redfish/v1/Managers', { headers })).status, 401);

    const missing = await req('/redfish/v1/SessionService/Sessions', {
      method: 'POST',
      body: { UserName: ADMIN.user },
    });
    assert.equal(missing.status, 400);
    assert.equal(errorId(missing), 'Base.1.19.0.PropertyMissing');
    const typed = await req('/redfish/v1/SessionService/Sessions', {
      method: 'POST',
      body: { UserName: ADMIN.user, Password: 12345 },
    });
    assert.equal(errorId(typed), 'Base.1.19.0.PropertyValueTypeError');
    assert.ok(!typed.text.includes('12345'), 'a password value is never echoed');

    const idle = await req('/redfish/v1/SessionService/Sessions', {
      method: 'POST',
      body: { UserName: ADMIN.user, Password: ADMIN.password },
    });
    const idleHeaders = { 'X-Auth-Token': idle.headers['x-auth-token'] as string };
    assert.equal((await req('/redfish/v1/Managers', { headers: idleHeaders })).status, 200);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await req('/redfish/v1/Managers', { headers: idleHeaders })).status, 401, 'expired after 2 s idle');
  });

  it('cookie sessions: reads need the cookie, changes also the XSRF token; logout ends it', async () => {
    const bad = await req('/login', { method: 'POST', body: { username: ADMIN.user, password: 'wrong' } });
    assert.equal(bad.status, 401);
    const login = await req('/login', { method: 'POST', body: { username: ADMIN.user, password: ADMIN.password } });
    assert.equal(login.status, 200);
    const setCookie = login.headers['set-cookie'] as string[];
    const session = setCookie.find((c) => c.startsWith('SESSION='))!;
    const xsrf = setCookie.find((c) => c.startsWith('XSRF-TOKEN='))!;
    assert.match(session, /HttpOnly/);
    assert.match(session, /Secure/);
    assert.match(session, /SameSite=Strict/);
    assert.doesNotMatch(xsrf, /HttpOnly/);
    assert.equal(xsrf.split(';')[0], `XSRF-TOKEN=${login.json.token}`);
    const Cookie = setCookie.map((c) => c.split(';')[0]).join('; ');

    assert.equal((await req('/redfish/v1/Managers/bmc', { headers: { Cookie } })).status, 200);
    const patch = { method: 'PATCH', body: { VerifyCertificate: true } };
    const noToken = await req('/redfish/v1/Managers/bmc/VirtualMedia/Slot_2', { ...patch, headers: { Cookie } });
    assert.equal(noToken.status, 401, 'a state change without X-XSRF-TOKEN is refused before anything else');
    const wrongToken = await req('/logout', { method: 'POST', headers: { Cookie, 'X-XSRF-TOKEN': 'x'.repeat(32) } });
    assert.equal(wrongToken.status, 401);
    const out = await req('/logout', { method: 'POST', headers: { Cookie, 'X-XSRF-TOKEN': login.json.token } });
    assert.equal(out.status, 200);
    assert.equal((await req('/redfish/v1/Managers/bmc', { headers: { Cookie } })).status, 401);
  });

  it('lets read-only users read but not change anything', async () => {
    assert.equal((await req('/redfish/v1/Managers/bmc', { auth: READER })).status, 200);
    for (const [method, p] of [
      ['POST', '/redfish/v1/Managers/bmc/VirtualMedia/Slot_2/Actions/VirtualMedia.EjectMedia'],
      ['POST', '/redfish/v1/Managers/bmc/Truststore/Certificates'],
      ['PATCH', '/redfish/v1/Managers/bmc/VirtualMedia/Slot_2'],
    ] as const) {
      const r = await req(p, { method, auth: READER, body: {} });
      assert.equal(r.status, 403, `${method} ${p}`);
      assert.equal(errorId(r), 'Base.1.19.0.InsufficientPrivilege');
    }
  });

  it('rate limits failed logins per client and user, without locking out other users', async () => {
    const guess = (password: string) =>
      req('/redfish/v1/SessionService/Sessions', {
        method: 'POST',
        body: { UserName: READER.user, Password: password },
      });
    for (let i = 0; i < 3; i++) assert.equal((await guess(`guess-${i}`)).status, 401);
    const locked = await guess(READER.password);
    assert.equal(locked.status, 429, 'even the right password waits out the lockout');
    assert.equal(locked.headers['retry-after'], '30');
    assert.equal(errorId(locked), 'Base.1.19.0.ServiceTemporarilyUnavailable');
    assert.equal((await req('/redfish/v1/Managers', { auth: ADMIN })).status, 200, 'other users are not locked out');
  });

  it('never logs a password', () => {
    const text = logLines.join('');
    for (const secret of [ADMIN.password, READER.password]) assert.ok(!text.includes(secret));
  });

  it('users file errors name the key; the default admin password is generated once, 0600', async () => {
    const bad = path.join(dir, 'bad-users.json');
    writeFileSync(bad, JSON.stringify({ Users: { alice: { Role: 'Wizard', PasswordHash: 'x' } } }));
    assert.throws(
      () => UserDirectory.fromFile(bad),
      /Users\.alice\.Role: must be one of Administrator, Operator, ReadOnly/,
    );
    writeFileSync(bad, JSON.stringify({ Users: { alice: { Role: 'Operator', PasswordHash: 'plain' } } }));
    assert.throws(() => UserDirectory.fromFile(bad), /Users\.alice\.PasswordHash: not a \$scrypt\$/);

    const runtime = mkdtempSync(path.join(dir, 'rt-'));
    const first = await UserDirectory.defaultAdmin(runtime, {});
    const file = path.join(runtime, 'web-password');
    assert.equal(first.passwordSource, file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const password = readFileSync(file, 'utf8').trim();
    assert.ok(password.length >= 20);
    const again = await UserDirectory.defaultAdmin(runtime, {});
    assert.equal(await again.users.verify('root', password), 'Administrator', 'the same password on the next start');
    const fromEnv = await UserDirectory.defaultAdmin(runtime, { VMEDIA_PASSWORD: 'from-env' });
    assert.equal(await fromEnv.users.verify('root', 'from-env'), 'Administrator');
    assert.equal(await fromEnv.users.verify('root', password), undefined);
  });
});
