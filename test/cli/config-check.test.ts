// `vmedia config check`: the daemon's own loader on a file: OK with a summary for the config we
// ship, every problem with its key path and exit 2 for a bad one, as `vmedia daemon` would stop.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expectExit } from './helpers/run-cli.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-cli-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function configFile(name: string, content: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

test('the shipped config is OK (summary on stdout); bad ones exit 2 with each key path on stderr', async () => {
  const shipped = path.resolve(import.meta.dirname, '../../config/virtual-media.json');
  const badKeys = configFile(
    'bad.json',
    JSON.stringify({
      InactivityTimeout: 'soon',
      MountPoints: {
        Slot_0: { EndpointId: '/nbd/0', Mode: 0, NBDDevice: 'nbd0', UnixSocket: '/run/x.sock', Timeout: 30, Colour: 1 },
      },
    }),
  );
  const [ok, bad, notJson, missing, noFile] = await Promise.all([
    expectExit(0, ['config', 'check', shipped]),
    expectExit(2, ['config', 'check', badKeys]),
    expectExit(2, ['config', 'check', configFile('broken.json', '{"MountPoints": ')]),
    expectExit(2, ['config', 'check', path.join(dir, 'absent.json')]),
    expectExit(2, ['config', 'check']),
  ]);
  assert.equal(
    ok.stdout,
    `${shipped}: OK (host backend kernel; 4 slots: Slot_0 Proxy, Slot_1 Proxy, Slot_2 Legacy, Slot_3 Legacy)\n`,
  );
  assert.equal(ok.stderr, '');
  assert.match(bad.stderr, /^vmedia config check: invalid config .*bad\.json:\n/);
  assert.match(bad.stderr, /InactivityTimeout/);
  assert.match(bad.stderr, /MountPoints\.Slot_0.*Colour/);
  assert.equal(bad.stdout, '');
  assert.match(notJson.stderr, /not valid JSON/);
  assert.match(missing.stderr, /cannot read the file: ENOENT/);
  assert.match(noFile.stderr, /Not enough non-option arguments/);
});
