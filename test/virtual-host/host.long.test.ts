// The long runs of `vmedia host` (npm run test:long): both firmwares booting a USB stick, a
// Continuous override that stays, media changing live in a running VM, the reset paths, and the
// whole chain with the daemon: a Proxy Mount reaches the VM as a USB stick that it boots.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dbus from 'dbus-next';
import { BUS_NAME, IFACE as VM_IFACE, slotPath } from '../../src/dbus/names.js';
import { startDaemon } from '../helpers/daemon.js';
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

const SOURCE = 'xyz.openbmc_project.Control.Boot.Source';
const TYPE = 'xyz.openbmc_project.Control.Boot.Type';
const ENABLE = 'xyz.openbmc_project.Object.Enable';
const str = (value: string) => new dbus.Variant('s', value);
const bool = (value: boolean) => new dbus.Variant('b', value);

let stack: HostStack;
let isoDir: string;
let iso: string;

before(async () => {
  isoDir = mkdtempSync(path.join(tmpdir(), 'vmedia-vhost-iso-'));
  iso = makeBootIso(isoDir);
  stack = await startHostStack(['--graceful-off-timeout', '1']);
});

after(async () => {
  await stack?.stop();
  rmSync(isoDir, { recursive: true, force: true });
});

const hostRequest = (transition: string) =>
  stack.set(
    HOST.service,
    HOST.path,
    HOST.iface,
    'RequestedHostTransition',
    str(`xyz.openbmc_project.State.Host.Transition.${transition}`),
  );
const bootType = (type: 'Legacy' | 'EFI') =>
  stack.set(SETTINGS, BOOT_PATH, TYPE, 'BootType', str(`xyz.openbmc_project.Control.Boot.Type.Types.${type}`));
const override = async (source: string, mode: 'Disabled' | 'Once' | 'Continuous') => {
  await stack.set(
    SETTINGS,
    BOOT_PATH,
    SOURCE,
    'BootSource',
    str(`xyz.openbmc_project.Control.Boot.Source.Sources.${source}`),
  );
  await stack.set(SETTINGS, BOOT_PATH, ENABLE, 'Enabled', bool(mode !== 'Disabled'));
  await stack.set(SETTINGS, ONE_TIME_PATH, ENABLE, 'Enabled', bool(mode === 'Once'));
};

/** Powers on and waits for the ISO's marker (one more on the console) and GRUB's power-off after it. */
async function bootToMarker(what: string, request = 'On'): Promise<number> {
  const before = markerCount(stack.consoleLog);
  const started = performance.now();
  await hostRequest(request);
  await waitFor(
    () => `the boot marker (${what}); vmedia host said:\n${stack.output()}`,
    () => markerCount(stack.consoleLog) > before,
    { timeoutMs: 180_000, intervalMs: 200 },
  );
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(`# ${what}: ${seconds.toFixed(1)} s to the marker\n`);
  await stack.hostState('Off', 60_000);
  return seconds;
}

interface BlockInfo {
  qdev: string;
  inserted?: unknown;
}
/** The VM's drives that hold a medium, by qdev id ("cd-Slot_2", or the USB stick's device path). */
async function insertedDrives(): Promise<string[]> {
  const blocks = (await stack.qmp('query-block')) as BlockInfo[];
  return blocks.filter((b) => b.inserted !== undefined).map((b) => b.qdev);
}

test('SeaBIOS and OVMF boot a USB stick; a Continuous Usb override stays for the next boot', async () => {
  await stack.serve('Slot_0', iso);
  await override('RemovableMedia', 'Continuous');
  await bootType('Legacy');
  await bootToMarker('SeaBIOS, USB stick');
  assert.equal(await stack.get(SETTINGS, BOOT_PATH, ENABLE, 'Enabled'), true);
  await bootType('EFI');
  await bootToMarker('OVMF, USB stick');
  assert.equal(await stack.get(SETTINGS, BOOT_PATH, ENABLE, 'Enabled'), true);
  assert.equal(await stack.get(SETTINGS, ONE_TIME_PATH, ENABLE, 'Enabled'), false);
  stack.eject('Slot_0');
});

test('media change live in a running VM; a reset boots a new QEMU; chassis Off; ForceWarmReboot', async () => {
  await override('Default', 'Disabled');
  await bootType('Legacy');
  await hostRequest('On'); // nothing to boot: SeaBIOS waits
  await stack.hostState('Running', 60_000);

  await stack.serve('Slot_2', iso);
  await stack.serve('Slot_1', iso);
  await waitFor('the CD and the USB stick in the VM', async () => {
    const drives = await insertedDrives();
    return drives.includes('cd-Slot_2') && drives.some((d) => d.includes('usb-Slot_1'));
  });
  stack.eject('Slot_2');
  stack.eject('Slot_1');
  await waitFor('both media out of the VM', async () => (await insertedDrives()).length === 0, { timeoutMs: 15_000 });

  // the reset button on QEMU's own monitor: the host boots again, in a new QEMU
  await stack.qmp('system_reset');
  await waitFor(
    'RestartCause ResetButton',
    async () =>
      (await stack.get(HOST.service, HOST.path, HOST.iface, 'RestartCause')) ===
      'xyz.openbmc_project.State.Host.RestartCause.ResetButton',
  );
  await stack.hostState('Running', 60_000);

  // chassis Off pulls the plug (host Off waits for the guest first)
  await stack.set(
    CHASSIS.service,
    CHASSIS.path,
    CHASSIS.iface,
    'RequestedPowerTransition',
    str('xyz.openbmc_project.State.Chassis.Transition.Off'),
  );
  await stack.hostState('Off', 15_000);
  assert.equal(
    await stack.get(CHASSIS.service, CHASSIS.path, CHASSIS.iface, 'CurrentPowerState'),
    'xyz.openbmc_project.State.Chassis.PowerState.Off',
  );

  // a medium inserted into the running VM is what ForceWarmReboot boots
  await hostRequest('On');
  await stack.hostState('Running', 60_000);
  await stack.serve('Slot_2', iso);
  await waitFor('the CD in the VM', async () => (await insertedDrives()).includes('cd-Slot_2'));
  await bootToMarker('SeaBIOS, CD inserted live, ForceWarmReboot', 'ForceWarmReboot');
  stack.eject('Slot_2');
});

test("the daemon's Proxy mount reaches the VM as a USB stick, which a one-time Usb override boots", async () => {
  const daemon = await startDaemon({ config: stack.config, busAddress: stack.bus.address });
  try {
    await stack.serve('Slot_1', iso, path.join(stack.runtimeDir, 'nbd1.sock'));
    const reply = await stack.client.call(
      new dbus.Message({
        destination: BUS_NAME,
        path: slotPath('Proxy', 'Slot_1'),
        interface: VM_IFACE.proxy,
        member: 'Mount',
      }),
    );
    assert.equal(reply?.body[0], true);
    await waitFor(
      'Slot_1 Active',
      async () => (await stack.get(BUS_NAME, slotPath('Proxy', 'Slot_1'), VM_IFACE.process, 'Active')) === true,
      { timeoutMs: 30_000 },
    );
    await override('RemovableMedia', 'Once');
    await bootType('Legacy');
    await bootToMarker('SeaBIOS, Proxy mount via the daemon');
    assert.equal(await stack.get(SETTINGS, BOOT_PATH, ENABLE, 'Enabled'), false);
  } finally {
    await daemon.stop();
  }
});
