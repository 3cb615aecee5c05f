// `vmedia host` against a private bus with real QEMU (TCG): the OpenBMC objects and their
// defaults, the errors a bad write gets, power on and off, and a one-time EFI boot override that
// boots a CD image from a slot's NBD export. Two boots: SeaBIOS (about 2 s) and OVMF (10-20 s).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dbus from 'dbus-next';
import { waitFor } from '../helpers/wait.js';
import {
  BOOT_PATH,
  CHASSIS,
  HOST,
  makeBootIso,
  markerCount,
  ONE_TIME_PATH,
  SETTINGS,
  startHostStack,
  type HostStack,
} from './stack.js';

const T = {
  source: 'xyz.openbmc_project.Control.Boot.Source',
  mode: 'xyz.openbmc_project.Control.Boot.Mode',
  type: 'xyz.openbmc_project.Control.Boot.Type',
  enable: 'xyz.openbmc_project.Object.Enable',
};
const str = (value: string) => new dbus.Variant('s', value);

let stack: HostStack;
let isoDir: string;
let iso: string;

before(async () => {
  isoDir = mkdtempSync(path.join(tmpdir(), 'vmedia-vhost-iso-'));
  iso = makeBootIso(isoDir);
  // a guest without an OS ignores the ACPI power button: keep the wait before forcing it off short
  stack = await startHostStack(['--graceful-off-timeout', '1']);
});

after(async () => {
  await stack?.stop();
  rmSync(isoDir, { recursive: true, force: true });
});

test('serves the OpenBMC power and boot objects with their defaults', async () => {
  const host = (name: string) => stack.get(HOST.service, HOST.path, HOST.iface, name);
  assert.equal(await host('CurrentHostState'), 'xyz.openbmc_project.State.Host.HostState.Off');
  assert.equal(await host('RequestedHostTransition'), 'xyz.openbmc_project.State.Host.Transition.Off');
  assert.equal(await host('RestartCause'), 'xyz.openbmc_project.State.Host.RestartCause.Unknown');
  assert.ok(
    ((await host('AllowedHostTransitions')) as string[]).includes(
      'xyz.openbmc_project.State.Host.Transition.ForceWarmReboot',
    ),
  );
  assert.equal(
    await stack.get(CHASSIS.service, CHASSIS.path, CHASSIS.iface, 'CurrentPowerState'),
    'xyz.openbmc_project.State.Chassis.PowerState.Off',
  );
  assert.equal(typeof (await stack.get(CHASSIS.service, CHASSIS.path, CHASSIS.iface, 'LastStateChangeTime')), 'bigint');

  // phosphor-settingsd's ObjectManager at "/" lists both boot objects with OpenBMC's defaults
  const reply = await stack.client.call(
    new dbus.Message({
      destination: SETTINGS,
      path: '/',
      interface: 'org.freedesktop.DBus.ObjectManager',
      member: 'GetManagedObjects',
    }),
  );
  const objects = reply?.body[0];
  const value = (p: string, i: string, name: string) => objects[p][i][name].value;
  assert.equal(value(BOOT_PATH, T.source, 'BootSource'), 'xyz.openbmc_project.Control.Boot.Source.Sources.Default');
  assert.equal(value(BOOT_PATH, T.mode, 'BootMode'), 'xyz.openbmc_project.Control.Boot.Mode.Modes.Regular');
  assert.equal(value(BOOT_PATH, T.type, 'BootType'), 'xyz.openbmc_project.Control.Boot.Type.Types.EFI');
  assert.equal(value(BOOT_PATH, T.enable, 'Enabled'), false);
  assert.equal(value(ONE_TIME_PATH, T.enable, 'Enabled'), false);
});

test('refuses what an OpenBMC image refuses', async () => {
  const rejects = (name: string, promise: Promise<unknown>) =>
    assert.rejects(promise, (err: dbus.DBusError) => {
      assert.equal(err.type, name);
      return true;
    });
  // sdbusplus' answer to a string that is not one of the enum's
  await rejects(
    'xyz.openbmc_project.sdbusplus.Error.InvalidEnumString',
    stack.set(HOST.service, HOST.path, HOST.iface, 'RequestedHostTransition', str('On')),
  );
  await rejects(
    'xyz.openbmc_project.sdbusplus.Error.InvalidEnumString',
    stack.set(
      SETTINGS,
      BOOT_PATH,
      T.source,
      'BootSource',
      str('xyz.openbmc_project.Control.Boot.Source.Sources.Floppy'),
    ),
  );
  await rejects(
    'org.freedesktop.DBus.Error.InvalidArgs',
    stack.set(HOST.service, HOST.path, HOST.iface, 'RequestedHostTransition', new dbus.Variant('i', 1)),
  );
  await rejects(
    'org.freedesktop.DBus.Error.PropertyReadOnly',
    stack.set(
      HOST.service,
      HOST.path,
      HOST.iface,
      'CurrentHostState',
      str('xyz.openbmc_project.State.Host.HostState.Running'),
    ),
  );
  // each service answers for its own objects only
  await assert.rejects(stack.get(SETTINGS, HOST.path, HOST.iface, 'CurrentHostState'));
  assert.equal(
    await stack.get(HOST.service, HOST.path, HOST.iface, 'RequestedHostTransition'),
    'xyz.openbmc_project.State.Host.Transition.Off',
  );
});

test('On starts QEMU and signals Running; Off ends QEMU', async () => {
  const changes: Record<string, unknown>[] = [];
  await stack.client.call(
    new dbus.Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'AddMatch',
      signature: 's',
      body: [`type='signal',member='PropertiesChanged',path='${HOST.path}'`],
    }),
  );
  stack.client.on('message', (msg: dbus.Message) => {
    if (msg.member !== 'PropertiesChanged' || msg.path !== HOST.path) return;
    changes.push(
      Object.fromEntries(Object.entries(msg.body[1] as Record<string, dbus.Variant>).map(([k, v]) => [k, v.value])),
    );
  });
  // SeaBIOS: the quick firmware; no medium, so it finds nothing to boot and waits
  await stack.set(SETTINGS, BOOT_PATH, T.type, 'BootType', str('xyz.openbmc_project.Control.Boot.Type.Types.Legacy'));
  await stack.set(
    HOST.service,
    HOST.path,
    HOST.iface,
    'RequestedHostTransition',
    str('xyz.openbmc_project.State.Host.Transition.On'),
  );
  await stack.hostState('Running', 60_000);
  assert.deepEqual(await stack.qmp('query-status'), { status: 'running', singlestep: false, running: true });
  assert.equal(
    await stack.get(CHASSIS.service, CHASSIS.path, CHASSIS.iface, 'CurrentPowerState'),
    'xyz.openbmc_project.State.Chassis.PowerState.On',
  );
  await waitFor('PropertiesChanged CurrentHostState Running', () =>
    changes.some((c) => c.CurrentHostState === 'xyz.openbmc_project.State.Host.HostState.Running'),
  );
  assert.ok(changes.some((c) => c.RequestedHostTransition === 'xyz.openbmc_project.State.Host.Transition.On'));

  await stack.set(
    HOST.service,
    HOST.path,
    HOST.iface,
    'RequestedHostTransition',
    str('xyz.openbmc_project.State.Host.Transition.Off'),
  );
  await stack.hostState('Off', 30_000);
  assert.equal(
    await stack.get(CHASSIS.service, CHASSIS.path, CHASSIS.iface, 'CurrentPowerState'),
    'xyz.openbmc_project.State.Chassis.PowerState.Off',
  );
  await assert.rejects(stack.qmp('query-status'), 'QEMU is gone');
  assert.ok(changes.some((c) => c.CurrentHostState === 'xyz.openbmc_project.State.Host.HostState.TransitioningToOff'));
});

test('a one-time Cd override with EFI boots the CD image on the slot export, then clears itself', async () => {
  await stack.serve('Slot_3', iso);
  await stack.set(
    SETTINGS,
    BOOT_PATH,
    T.source,
    'BootSource',
    str('xyz.openbmc_project.Control.Boot.Source.Sources.ExternalMedia'),
  );
  await stack.set(SETTINGS, BOOT_PATH, T.type, 'BootType', str('xyz.openbmc_project.Control.Boot.Type.Types.EFI'));
  await stack.set(SETTINGS, BOOT_PATH, T.enable, 'Enabled', new dbus.Variant('b', true));
  await stack.set(SETTINGS, ONE_TIME_PATH, T.enable, 'Enabled', new dbus.Variant('b', true));
  const started = performance.now();
  await stack.set(
    HOST.service,
    HOST.path,
    HOST.iface,
    'RequestedHostTransition',
    str('xyz.openbmc_project.State.Host.Transition.On'),
  );
  await waitFor(
    () => `the boot marker on the console; vmedia host said:\n${stack.output()}`,
    () => markerCount(stack.consoleLog) > 0,
    { timeoutMs: 180_000, intervalMs: 200 },
  );
  process.stderr.write(`# OVMF boot to the marker: ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  assert.equal(await stack.get(SETTINGS, ONE_TIME_PATH, T.enable, 'Enabled'), false);
  assert.equal(await stack.get(SETTINGS, BOOT_PATH, T.enable, 'Enabled'), false);
  // GRUB powers the VM off after the marker: the host follows
  await stack.hostState('Off', 60_000);
});
