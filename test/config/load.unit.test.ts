// Config loading (docs/config.md): OpenBMC's file loads as is, our keys get their defaults,
// and every bad or unknown key is reported with its path and the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';

const repoFile = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));

function problems(raw: unknown): string[] {
  try {
    parseConfig(raw, '/etc', 'test.json');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(err.message, /^invalid config test\.json:/);
    return err.problems;
  }
  assert.fail('the config was accepted');
}

const slot = (extra: object = {}) => ({
  EndpointId: '/nbd/0',
  Mode: 0,
  NBDDevice: 'nbd0',
  UnixSocket: 'nbd0.sock',
  ...extra,
});

test("OpenBMC's default config loads with its values and our defaults", () => {
  const config = loadConfig(repoFile('config/virtual-media.json'));
  assert.equal(config.inactivityTimeout, 1800);
  assert.equal(config.hostBackend, 'kernel');
  assert.equal(config.allowPrivateSourceHosts, false);
  assert.deepEqual(config.nbdClient, { path: 'nbd-client', args: undefined });
  assert.deepEqual([config.sysRoot, config.devRoot, config.configfsRoot], ['/sys', '/dev', '/sys/kernel/config']);
  assert.deepEqual(
    config.slots.map((s) => [s.name, s.mode, s.endpointId, s.nbdDevice, s.unixSocket, s.timeout, s.exportSocket]),
    [
      ['Slot_0', 'proxy', '/nbd/0', 'nbd0', '/run/virtual-media/nbd0.sock', 30, undefined],
      ['Slot_1', 'proxy', '/nbd/1', 'nbd1', '/run/virtual-media/nbd1.sock', 30, undefined],
      ['Slot_2', 'legacy', '', 'nbd2', '/run/virtual-media/nbd2.sock', 90, undefined],
      ['Slot_3', 'legacy', '', 'nbd3', '/run/virtual-media/nbd3.sock', 90, undefined],
    ],
  );
  assert.equal(config.slots[0]!.blockSize, 512);
});

test('dev.json: export backend, a USB-stick Legacy slot beside the CDs, sockets under the runtime dir, which the caller may replace', () => {
  const config = loadConfig(repoFile('config/dev.json'), { runtimeDir: '/tmp/vm-rt' });
  assert.equal(config.hostBackend, 'export');
  assert.equal(config.allowPrivateSourceHosts, true);
  assert.equal(config.runtimeDir, '/tmp/vm-rt');
  assert.deepEqual(
    config.slots.map((s) => [s.name, s.mode, s.mediaType, s.unixSocket, s.exportSocket]),
    [
      ['Slot_0', 'proxy', 'USBStick', '/tmp/vm-rt/nbd0.sock', '/tmp/vm-rt/export/Slot_0.sock'],
      ['Slot_1', 'proxy', 'USBStick', '/tmp/vm-rt/nbd1.sock', '/tmp/vm-rt/export/Slot_1.sock'],
      ['Slot_2', 'legacy', 'CD', '/tmp/vm-rt/nbd2.sock', '/tmp/vm-rt/export/Slot_2.sock'],
      ['Slot_3', 'legacy', 'CD', '/tmp/vm-rt/nbd3.sock', '/tmp/vm-rt/export/Slot_3.sock'],
      // a USB stick beside the CDs: generated NoCloud / config-2 / floppy media go here as FAT
      ['Slot_4', 'legacy', 'USBStick', '/tmp/vm-rt/nbd4.sock', '/tmp/vm-rt/export/Slot_4.sock'],
    ],
  );
  assert.equal(loadConfig(repoFile('config/dev.json')).runtimeDir, repoFile('run'));
});

test('our keys: /dev/ prefixes, relative paths, NbdClient, NbdQueue, roots, ExportSocket default', () => {
  const config = parseConfig(
    {
      HostBackend: 'export',
      RuntimeDir: 'rt',
      TrustStore: 'ca',
      AllowPrivateSourceHosts: true,
      InactivityTimeout: 0,
      NbdClient: { Path: '/usr/sbin/nbd-client', Args: ['-n'] },
      NbdQueue: { ReadAheadKiB: 0, MaxRequestKiB: 256 },
      SysRoot: '/tmp/sys',
      DevRoot: '/tmp/dev',
      ConfigfsRoot: '/tmp/cfg',
      Sources: {},
      MountPoints: {
        Slot_7: slot({
          NBDDevice: '/dev/nbd7',
          UnixSocket: '/abs/s.sock',
          MediaType: 'CD',
          UDC: 'dummy_udc.0',
          BlockSize: 4096,
          Timeout: 60,
        }),
      },
    },
    '/etc/vm',
    'x.json',
  );
  assert.equal(config.runtimeDir, '/etc/vm/rt');
  assert.equal(config.trustStore, '/etc/vm/rt/ca');
  assert.equal(config.inactivityTimeout, 0);
  assert.deepEqual(config.nbdClient, { path: '/usr/sbin/nbd-client', args: ['-n'] });
  assert.deepEqual(config.nbdQueue, { readAheadKiB: 0, maxRequestKiB: 256 });
  assert.deepEqual(
    parseConfig({ MountPoints: { Slot_0: slot() }, NbdQueue: { MaxRequestKiB: 512 } }, '/etc/vm', 'x.json').nbdQueue,
    { readAheadKiB: 4096, maxRequestKiB: 512 },
    'a key left out keeps its default',
  );
  assert.deepEqual([config.sysRoot, config.devRoot, config.configfsRoot], ['/tmp/sys', '/tmp/dev', '/tmp/cfg']);
  assert.deepEqual(config.slots[0], {
    name: 'Slot_7',
    mode: 'proxy',
    endpointId: '/nbd/0',
    nbdDevice: 'nbd7',
    unixSocket: '/abs/s.sock',
    timeout: 60,
    blockSize: 4096,
    mediaType: 'CD',
    exportSocket: '/etc/vm/rt/export/Slot_7.sock',
    udc: 'dummy_udc.0',
  });
});

test('every bad or unknown key is named with the reason', () => {
  const cases: [string, unknown, RegExp][] = [
    [
      'unknown top-level key',
      { MountPoints: { Slot_0: slot() }, InactivityTimout: 5 },
      /^InactivityTimout: unknown key$/,
    ],
    [
      'unknown slot key',
      { MountPoints: { Slot_0: slot({ Socket: 'x' }) } },
      /^MountPoints\.Slot_0\.Socket: unknown key$/,
    ],
    ['bad Mode', { MountPoints: { Slot_0: slot({ Mode: 2 }) } }, /^MountPoints\.Slot_0\.Mode: must be one of 0, 1$/],
    [
      'bad NBDDevice',
      { MountPoints: { Slot_0: slot({ NBDDevice: 'sda' }) } },
      /^MountPoints\.Slot_0\.NBDDevice: must match pattern/,
    ],
    [
      'missing UnixSocket',
      { MountPoints: { Slot_0: { Mode: 1, NBDDevice: 'nbd0' } } },
      /^MountPoints\.Slot_0\.UnixSocket: required key is missing$/,
    ],
    [
      'negative timeout',
      { MountPoints: { Slot_0: slot({ Timeout: -1 }) } },
      /^MountPoints\.Slot_0\.Timeout: must be >= 1$/,
    ],
    [
      'string InactivityTimeout',
      { MountPoints: { Slot_0: slot() }, InactivityTimeout: '30' },
      /^InactivityTimeout: must be integer$/,
    ],
    [
      'bad HostBackend',
      { MountPoints: { Slot_0: slot() }, HostBackend: 'qemu' },
      /^HostBackend: must be one of "kernel", "export"$/,
    ],
    [
      'bad MediaType',
      { MountPoints: { Slot_0: slot({ MediaType: 'DVD' }) } },
      /^MountPoints\.Slot_0\.MediaType: must be one of "CD", "USBStick"$/,
    ],
    [
      'bad NbdClient key',
      { MountPoints: { Slot_0: slot() }, NbdClient: { Flags: [] } },
      /^NbdClient\.Flags: unknown key$/,
    ],
    [
      'NbdQueue request shorter than a page',
      { MountPoints: { Slot_0: slot() }, NbdQueue: { MaxRequestKiB: 2 } },
      /^NbdQueue\.MaxRequestKiB: must be >= 4$/,
    ],
    ['bad slot name', { MountPoints: { 'Slot-0': slot() } }, /^MountPoints\.Slot-0: slot names may only use letters/],
    ['no MountPoints', {}, /^MountPoints: required key is missing$/],
    ['empty MountPoints', { MountPoints: {} }, /^MountPoints: must NOT have fewer than 1 properties$/],
    ['not an object', [], /^\(top level\): must be object$/],
    [
      'Proxy without endpoint',
      { MountPoints: { Slot_0: slot({ EndpointId: '' }) } },
      /^MountPoints\.Slot_0\.EndpointId: a Proxy slot/,
    ],
    [
      'Proxy endpoint the web cannot serve',
      { MountPoints: { Slot_0: slot({ EndpointId: '/media/0' }) } },
      /^MountPoints\.Slot_0\.EndpointId: a Proxy slot \(Mode 0\) needs the web endpoint \/nbd\/<n>/,
    ],
    [
      'shared Proxy endpoint',
      { MountPoints: { Slot_0: slot(), Slot_1: slot({ NBDDevice: 'nbd1', UnixSocket: 'b.sock' }) } },
      /^MountPoints\.Slot_1\.EndpointId: "\/nbd\/0" is already used by MountPoints\.Slot_0\.EndpointId$/,
    ],
    [
      'shared device',
      {
        MountPoints: {
          Slot_0: slot(),
          Slot_1: slot({ EndpointId: '/nbd/1', UnixSocket: 'b.sock', NBDDevice: '/dev/nbd0' }),
        },
      },
      /^MountPoints\.Slot_1\.NBDDevice: "nbd0" is already used by MountPoints\.Slot_0\.NBDDevice$/,
    ],
    [
      'shared socket',
      { MountPoints: { Slot_0: slot(), Slot_1: slot({ EndpointId: '/nbd/1', NBDDevice: 'nbd1' }) } },
      /^MountPoints\.Slot_1\.UnixSocket: "\/run\/virtual-media\/nbd0\.sock" is already used/,
    ],
    [
      'socket path too long',
      { MountPoints: { Slot_0: slot({ UnixSocket: 'x'.repeat(120) }) } },
      /^MountPoints\.Slot_0\.UnixSocket: .* longer than the 107 bytes/,
    ],
  ];
  for (const [what, raw, expected] of cases) {
    const found = problems(raw);
    assert.ok(
      found.some((p) => expected.test(p)),
      `${what}: ${JSON.stringify(found)}`,
    );
  }
  // all problems at once, not only the first
  assert.equal(problems({ Foo: 1, MountPoints: { Slot_0: slot({ Mode: 9, Bar: 2 }) } }).length, 3);
});

test('an unreadable or malformed file is a ConfigError too', () => {
  assert.throws(
    () => loadConfig('/nonexistent/virtual-media.json'),
    (err: Error) => err instanceof ConfigError && /cannot read the file/.test(err.message),
  );
  assert.throws(
    () => loadConfig(repoFile('package.json')),
    (err: Error) => err instanceof ConfigError && /package\.json/.test(err.message),
  );
});
