import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startTestBus } from './private-bus.js';

test('private bus answers busctl and leaves nothing behind', async () => {
  const bus = await startTestBus();
  try {
    const out = execFileSync('busctl', [
      `--address=${bus.address}`,
      'call',
      'org.freedesktop.DBus',
      '/org/freedesktop/DBus',
      'org.freedesktop.DBus',
      'GetId',
    ]).toString();
    assert.match(out, /^s "[0-9a-f]{32}"\n$/);
  } finally {
    await bus.stop();
  }
  assert.equal(existsSync(bus.dir), false);
});
