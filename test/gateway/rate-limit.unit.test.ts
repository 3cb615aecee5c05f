// The token buckets on a clock the test moves: a burst, then the rate earned back, keys apart, the
// wait to announce; the option's RATE/BURST form; IPv6 sources counted per /64.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addressKey, parseRateLimit, RateLimiter } from '../../src/gateway/api/rate-limit.js';

describe('gateway rate limits', () => {
  it('lets a burst through, then the rate, per key, and says how long to wait', () => {
    let now = 0;
    const limiter = new RateLimiter({ perSecond: 0.5, burst: 3 }, () => now);
    assert.deepEqual(
      [1, 2, 3].map(() => limiter.take('a')),
      [0, 0, 0],
    );
    assert.equal(limiter.take('a'), 2, 'one more is earned in 2 s');
    assert.equal(limiter.take('b'), 0, 'another key has its own bucket');
    now = 1000;
    assert.equal(limiter.wait('a'), 1);
    now = 2000;
    assert.equal(limiter.take('a'), 0);
    assert.equal(limiter.take('a'), 2);
    now = 60_000;
    assert.deepEqual(
      [1, 2, 3, 4].map(() => limiter.take('a')),
      [0, 0, 0, 2],
      'never more than the burst',
    );
    const off = new RateLimiter(parseRateLimit('0'));
    assert.ok(
      [...Array(1000).keys()].every(() => off.take('a') === 0),
      '0: no limit',
    );
  });

  it('reads RATE/BURST and refuses anything else', () => {
    assert.deepEqual(parseRateLimit('0.2/20'), { perSecond: 0.2, burst: 20 });
    for (const bad of ['', '5', '0/5', '5/0', 'a/b', '-1/5']) assert.throws(() => parseRateLimit(bad), /RATE\/BURST/);
  });

  it('counts IPv4 sources per address and IPv6 sources per /64', () => {
    assert.equal(addressKey('192.0.2.7'), '192.0.2.7');
    assert.equal(addressKey('2001:db8:0:1::1'), addressKey('2001:0db8:0000:0001:ffff:1:2:3'));
    assert.notEqual(addressKey('2001:db8:0:1::1'), addressKey('2001:db8:0:2::1'));
    assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  });
});
