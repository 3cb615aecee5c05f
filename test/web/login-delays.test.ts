// Failed logins cost delays, not lockouts (finding 11): after a few failures for a user from an
// address prefix (IPv4 /32, IPv6 /64) the next try must wait 1 s, then 2, 4, ... up to 30 s; a
// correct password from another address is never refused; rotating addresses inside a /64 buys
// nothing, and neither do concurrent tries.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_THROTTLE, LoginThrottle } from '../../src/web/auth/throttle.js';
import { startWebInProcess, type InProcessWeb } from './web-in-process.js';

describe('login delays', { timeout: 60_000 }, () => {
  describe('the throttle (clock in hand)', () => {
    let now = 0;
    const throttle = () => {
      now = 1_000_000;
      return new LoginThrottle(DEFAULT_THROTTLE, () => now);
    };
    const fail = (t: LoginThrottle, address: string, user: string, times: number) => {
      for (let i = 0; i < times; i++) t.failed(address, user);
    };

    it('delays a user from one address 1, 2, 4 ... 30 s, never longer; other addresses and users go on', () => {
      const t = throttle();
      fail(t, '198.51.100.7', 'root', 4);
      assert.equal(t.retryAfter('198.51.100.7', 'root'), 0, 'a few typos cost nothing');
      const waits: number[] = [];
      for (let i = 0; i < 10; i++) {
        t.failed('198.51.100.7', 'root');
        const wait = t.retryAfter('198.51.100.7', 'root');
        waits.push(wait);
        now += wait * 1000;
        assert.equal(t.retryAfter('198.51.100.7', 'root'), 0, 'once the delay is over, a try is allowed');
      }
      assert.deepEqual(waits, [1, 2, 4, 8, 16, 30, 30, 30, 30, 30]);
      t.failed('198.51.100.7', 'root');
      assert.equal(t.retryAfter('198.51.100.8', 'root'), 0, 'another address is never refused');
      assert.equal(t.retryAfter('198.51.100.7', 'operator'), 0, 'nor another user at this address');
      assert.equal(t.retryAfter('::ffff:198.51.100.7', 'root'), 30, 'an IPv4-mapped address is that IPv4 address');
      t.succeeded('198.51.100.7', 'root');
      assert.equal(t.retryAfter('198.51.100.7', 'root'), 0, 'a success starts over');
    });

    it('keys IPv6 clients by /64: rotating addresses inside it buys no tries', () => {
      const t = throttle();
      for (let i = 1; i <= 5; i++) t.failed(`2001:db8:0:1::${i.toString(16)}`, 'root');
      assert.equal(t.retryAfter('2001:db8:0:1:ffff:ffff:ffff:ffff', 'root'), 1);
      assert.equal(t.retryAfter('2001:0db8:0000:0001:0:0:0:9', 'root'), 1, 'however the address is written');
      assert.equal(t.retryAfter('2001:db8:0:2::1', 'root'), 0, 'the next /64 is someone else');
      fail(t, 'fe80::1%eth0', 'root', 5);
      assert.equal(t.retryAfter('fe80::2%eth1', 'root'), 1, 'link-local, whatever the zone');
    });

    it('delays a prefix trying many user names, without touching other prefixes', () => {
      const t = throttle();
      for (let i = 0; i < 60; i++) t.failed('203.0.113.9', `guess-${i}`);
      assert.ok(t.retryAfter('203.0.113.9', 'root') > 0, 'spraying names from one address is slowed too');
      assert.equal(t.retryAfter('203.0.113.10', 'root'), 0);
    });
  });

  describe('over HTTPS', () => {
    let w: InProcessWeb;
    before(async () => {
      w = await startWebInProcess();
    });
    after(async () => {
      await w?.stop();
    });
    const basic = (password: string, from: string) =>
      w.request('/redfish/v1/Managers', { auth: { user: w.admin.user, password }, from });

    it('a flood of wrong passwords delays its own address briefly and never refuses the admin elsewhere', async () => {
      for (let i = 0; i < 5; i++) assert.equal((await basic(`guess-${i}`, '127.0.0.2')).status, 401);
      const delayed = await basic(w.admin.password, '127.0.0.2');
      assert.equal(delayed.status, 429, 'the guesser’s address waits, even with the right password');
      const wait = Number(delayed.headers['retry-after']);
      assert.ok(wait >= 1 && wait <= 2, `a short delay, not a lockout: Retry-After ${wait}`);
      assert.equal((await basic(w.admin.password, '127.0.0.1')).status, 200, 'the admin elsewhere is not refused');
      await new Promise((r) => setTimeout(r, wait * 1000));
      assert.equal((await basic(w.admin.password, '127.0.0.2')).status, 200, 'after the delay, the right password');
    });

    it('concurrent guesses buy no more tries than sequential ones', async () => {
      const all = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          w.request('/redfish/v1/Managers', { auth: { user: w.reader.user, password: `g-${i}` }, from: '127.0.0.3' }),
        ),
      );
      const checked = all.filter((r) => r.status === 401).length;
      assert.ok(checked <= 5, `${checked} passwords checked of 20 sent at once`);
      assert.ok(
        all.every((r) => r.status === 401 || r.status === 429),
        all.map((r) => r.status).join(' '),
      );
    });
  });
});
