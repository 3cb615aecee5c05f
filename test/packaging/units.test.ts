// `systemd-analyze verify` over every unit in systemd/, offline: this machine's systemd is not
// PID 1 (a container, a CI runner), so the units are checked inside a scratch root (--root) that
// holds the distribution's own units (targets, dbus.socket, modprobe@.service) and a stub for
// each program an Exec line starts. verify exits 0 on a misspelt key or a bad value (it logs
// "ignoring"), so any line it prints about our units fails the test too; broken copies prove it.
// Also: the daemon's stop deadline agrees with the unit's, and ExecStart starts the bundle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { STOP_DEADLINE_MS } from '../../src/cli/stop-deadline.js';
import { CLI_ENTRY } from '../../scripts/bundle.js';

const run = promisify(execFile);
const SYSTEMD_DIR = path.resolve(import.meta.dirname, '../../systemd');
const DAEMON_UNIT = 'xyz.openbmc_project.VirtualMedia.service';
/** Where the Yocto recipe installs the bundle (yocto/vmedia.inc: VMEDIA_DIR). */
const INSTALL_DIR = '/usr/lib/vmedia';
const DISTRO_UNITS = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => existsSync(d));

const units = readdirSync(SYSTEMD_DIR).filter((f) => /\.(service|socket|timer|path|target|mount)$/.test(f));

/** Values of `key` in a unit file (continuation lines joined). */
function unitValues(text: string, key: string): string[] {
  return text
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1).trim());
}

/** The programs the Exec lines start, without systemd's prefixes (-, +, !, @, :). */
function execPrograms(text: string): string[] {
  return text
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .filter((line) => /^Exec[A-Za-z]*=/.test(line))
    .map(
      (line) =>
        line
          .slice(line.indexOf('=') + 1)
          .trim()
          .replace(/^[-+!@:]+/, '')
          .split(/\s+/)[0]!,
    )
    .filter((program) => program.startsWith('/'));
}

/** Verifies unit files (name → content) in a scratch root; returns the problems verify reported. */
async function verify(files: Record<string, string>): Promise<string[]> {
  assert.ok(DISTRO_UNITS, 'no /usr/lib/systemd/system: install systemd (scripts/setup.sh --test)');
  const root = mkdtempSync(path.join(tmpdir(), 'vmedia-units-'));
  try {
    cpSync(DISTRO_UNITS, path.join(root, 'usr/lib/systemd/system'), { recursive: true });
    const unitDir = path.join(root, 'etc/systemd/system');
    mkdirSync(unitDir, { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      writeFileSync(path.join(unitDir, name), text);
      for (const program of execPrograms(text)) {
        if (program.includes('nothere')) continue; // the broken case: a program that is not installed
        mkdirSync(path.join(root, path.dirname(program)), { recursive: true });
        writeFileSync(path.join(root, program), '#!/bin/sh\n');
        chmodSync(path.join(root, program), 0o755);
      }
    }
    const result = await run('systemd-analyze', ['verify', '--man=no', `--root=${root}`, ...Object.keys(files)]).then(
      (r) => ({ code: 0, output: r.stdout + r.stderr }),
      (err: { code?: number | string; stdout?: string; stderr?: string }) => {
        if (err.code === 'ENOENT')
          throw new Error('systemd-analyze is missing: install systemd (scripts/setup.sh --test)');
        return { code: Number(err.code), output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
      },
    );
    const ours = result.output.split('\n').filter((line) => Object.keys(files).some((name) => line.includes(name)));
    return result.code === 0 ? ours : [`exit ${result.code}`, ...ours];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const read = (name: string) => readFileSync(path.join(SYSTEMD_DIR, name), 'utf8');

test('systemd-analyze verify finds nothing to say about the units in systemd/', async () => {
  assert.ok(units.includes(DAEMON_UNIT) && units.includes('vmedia-web.service'), `units: ${units.join(', ')}`);
  const problems = await verify(Object.fromEntries(units.map((u) => [u, read(u)])));
  assert.deepEqual(problems, []);
});

test('a broken unit fails the check: misspelt key, bad value, missing program, no bus name', async () => {
  const good = read(DAEMON_UNIT);
  const breakages: [string, string][] = [
    ['misspelt key', good.replace(/^Restart=always$/m, 'Restartt=always')],
    ['bad value', good.replace(/^Type=dbus$/m, 'Type=bogus')],
    ['missing program', good.replace(/^ExecStart=\S+/m, 'ExecStart=/usr/bin/nothere')],
    ['no bus name', good.replace(/^BusName=.*$/m, 'BusName=')],
  ];
  for (const [what, text] of breakages) {
    assert.notEqual(text, good, `${what}: the replacement did not apply`);
    const problems = await verify({ 'vmedia-broken.service': text });
    assert.ok(problems.length > 0, `${what}: verify found nothing wrong`);
  }
});

test("the daemon's own stop deadline ends before systemd's TimeoutStopSec", () => {
  const [timeout] = unitValues(read(DAEMON_UNIT), 'TimeoutStopSec');
  assert.match(timeout ?? '', /^\d+$/, 'TimeoutStopSec in plain seconds');
  const unitMs = Number(timeout) * 1000;
  // room for the exit itself (the log line, closing the bus) before systemd sends SIGKILL
  assert.ok(STOP_DEADLINE_MS + 5_000 <= unitMs, `daemon ${STOP_DEADLINE_MS} ms vs unit ${unitMs} ms`);
});

test('the daemon unit starts the bundle where the recipe installs it, as Type=dbus with its bus name', () => {
  const text = read(DAEMON_UNIT);
  const [execStart] = unitValues(text, 'ExecStart');
  assert.ok(execStart?.startsWith(`/usr/bin/node ${INSTALL_DIR}/${CLI_ENTRY} daemon `), execStart);
  assert.deepEqual(unitValues(text, 'Type'), ['dbus']);
  assert.deepEqual(unitValues(text, 'BusName'), ['xyz.openbmc_project.VirtualMedia']);
  // a crash loop (one start per RestartSec) must never reach the start limit
  const restartSec = Number(unitValues(text, 'RestartSec')[0]);
  const interval = Number(unitValues(text, 'StartLimitIntervalSec')[0]);
  const burst = Number(unitValues(text, 'StartLimitBurst')[0]);
  assert.ok(Math.floor(interval / restartSec) + 1 < burst, `${burst} starts in ${interval} s, one per ${restartSec} s`);
});
