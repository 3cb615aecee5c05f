// parsePlainArgv (src/cli/plain-argv.ts): the units' fixed options parse without yargs; anything
// else is left to yargs (undefined), so a bad command line gets yargs' error and usage.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePlainArgv, type StringOptions } from '../../src/cli/plain-argv.js';

const options = {
  config: { type: 'string', default: '/etc/virtual-media.json', describe: 'config file' },
  bus: { type: 'string', default: 'system', describe: 'bus' },
  'runtime-dir': { type: 'string', describe: 'runtime dir' },
  users: { type: 'string', describe: 'users file' },
  'pam-service': { type: 'string', conflicts: 'users', describe: 'PAM service' },
  cipher: { type: 'string', choices: ['auto', 'aes'], default: 'auto', describe: 'cipher' },
} as const satisfies StringOptions;

test("the unit's options, both spellings, with the defaults of the options not given", () => {
  assert.deepEqual(parsePlainArgv(options, ['--config', '/etc/vm.json', '--bus=system', '--runtime-dir', '/run/vm']), {
    config: '/etc/vm.json',
    bus: 'system',
    'runtime-dir': '/run/vm',
    cipher: 'auto',
  });
  assert.deepEqual(parsePlainArgv(options, []), { config: '/etc/virtual-media.json', bus: 'system', cipher: 'auto' });
  assert.deepEqual(parsePlainArgv(options, ['--cipher', 'aes', '--pam-service', 'webserver']), {
    config: '/etc/virtual-media.json',
    bus: 'system',
    'pam-service': 'webserver',
    cipher: 'aes',
  });
});

test('anything else is left to yargs', () => {
  for (const argv of [
    ['--help'],
    ['--version'],
    ['--bogus', 'x'],
    ['--runtimeDir', '/run/vm'], // yargs' camel-case alias
    ['positional'],
    ['--config'], // no value
    ['--config', 'a', '--config', 'b'], // yargs makes an array of it
    ['--cipher', 'rot13'],
    ['--users', 'u.json', '--pam-service', 'webserver'],
  ])
    assert.equal(parsePlainArgv(options, argv), undefined, argv.join(' '));
});
