// One account cannot fill the session table (finding 8): each user holds at most 16 sessions
// (token and cookie together); a 17th login ends that user's least recently used session, so the
// 64-session table always has room for the other accounts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { HttpResponse } from '../helpers/stack.js';
import { startWebInProcess, type InProcessWeb } from './web-in-process.js';

const SESSIONS = '/redfish/v1/SessionService/Sessions';

describe('sessions per user', { timeout: 60_000 }, () => {
  let w: InProcessWeb;
  before(async () => {
    w = await startWebInProcess();
  });
  after(async () => {
    await w?.stop();
  });

  const tokenLogin = (c: { user: string; password: string }) =>
    w.request(SESSIONS, { method: 'POST', body: { UserName: c.user, Password: c.password } });
  const asToken = (p: string, token: string) => w.request(p, { headers: { 'X-Auth-Token': token } });
  const token = (r: HttpResponse) => r.headers['x-auth-token'] as string;

  it('a read-only user logging in 70 times keeps 16 sessions, and the others can still log in', async () => {
    const tokens: string[] = [];
    for (let i = 0; i < 70; i++) {
      const r = await tokenLogin(w.reader);
      assert.equal(r.status, 201, `login ${i + 1}: ${r.text}`);
      tokens.push(token(r));
    }
    const cookie = await w.request('/login', {
      method: 'POST',
      body: { username: w.reader.user, password: w.reader.password },
    });
    assert.equal(cookie.status, 200, 'a cookie login counts as one of the 16 and ends the oldest');

    const newest = tokens.at(-1)!;
    const own = await asToken(SESSIONS, newest);
    assert.equal(own.json.Members.length, 16);
    assert.equal((await asToken('/redfish/v1/Managers', tokens[0]!)).status, 401, 'the oldest were ended');
    assert.equal((await asToken('/redfish/v1/Managers', tokens.at(-15)!)).status, 200);

    const admin = await tokenLogin(w.admin);
    assert.equal(admin.status, 201, admin.text);
    const all = await asToken(SESSIONS, token(admin));
    assert.equal(all.json.Members.length, 17, "the reader's 16 and the admin's");
    const adminPage = await w.request('/login', {
      method: 'POST',
      body: { username: w.admin.user, password: w.admin.password },
    });
    assert.equal(adminPage.status, 200);
  });
});
