// The fixes to dbus-next (an unreadable message is dropped, not thrown; received fds nobody took
// are closed) and to usocket's addon (test/hardening/usocket-close.unit.test.ts) live in patches/
// and are applied by the postinstall script (scripts/postinstall.sh) on every npm install and
// npm ci. An install that skipped it leaves the daemon and the web one malformed bus message away
// from a crash: fail here, without starting anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PATCHES = new URL('../../patches/', import.meta.url);

test('every patch in patches/ is applied to node_modules', () => {
  const patches = readdirSync(PATCHES).filter((f) => f.endsWith('.patch'));
  for (const expected of ['dbus-next+0.10.2.patch', 'usocket+1.1.0.patch'])
    assert.ok(patches.includes(expected), `patches/: ${patches.join(', ')}`);
  for (const patch of patches) {
    // applies in reverse exactly when it is applied
    assert.doesNotThrow(
      () => execFileSync('git', ['apply', '--check', '--reverse', `patches/${patch}`], { cwd: ROOT, stdio: 'pipe' }),
      `${patch} is not applied: run npm install (its postinstall runs patch-package)`,
    );
  }
});
