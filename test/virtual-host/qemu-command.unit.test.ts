// The boot plan and the QEMU command line of one power-on, without running QEMU: which drive
// boots first for each override, which firmware, and how paths reach QEMU's option syntax.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootPlan } from '../../src/virtual-host/boot-plan.js';
import type { BootSettingsSnapshot } from '../../src/virtual-host/boot-settings.js';
import { hostPaths } from '../../src/virtual-host/host-paths.js';
import { qemuArguments } from '../../src/virtual-host/qemu-command.js';
import type { HostSlot } from '../../src/virtual-host/slots.js';

const slots: HostSlot[] = [
  { name: 'Slot_0', media: 'USBStick', exportSocket: '/run/x/export/Slot_0.sock' },
  { name: 'Slot_1', media: 'USBStick', exportSocket: '/run/x/export/Slot_1.sock' },
  { name: 'Slot_2', media: 'CD', exportSocket: '/run/x/export/Slot_2.sock' },
  { name: 'Slot_3', media: 'CD', exportSocket: '/run/x/export/Slot_3.sock' },
];
const settings = (patch: Partial<BootSettingsSnapshot>): BootSettingsSnapshot => ({
  source: 'Default',
  type: 'EFI',
  overrideEnabled: false,
  oneTime: false,
  ...patch,
});
const order = (s: BootSettingsSnapshot) =>
  [...bootPlan(s, slots).bootIndex].sort((a, b) => a[1] - b[1]).map(([slot]) => slot);

test('the boot order: CDs first unless a Usb override puts the USB sticks first; config order within', () => {
  assert.deepEqual(order(settings({})), ['Slot_2', 'Slot_3', 'Slot_0', 'Slot_1']);
  assert.deepEqual(order(settings({ source: 'RemovableMedia' })), ['Slot_2', 'Slot_3', 'Slot_0', 'Slot_1']);
  assert.deepEqual(order(settings({ source: 'RemovableMedia', overrideEnabled: true })), [
    'Slot_0',
    'Slot_1',
    'Slot_2',
    'Slot_3',
  ]);
  assert.deepEqual(order(settings({ source: 'USB', overrideEnabled: true })), ['Slot_0', 'Slot_1', 'Slot_2', 'Slot_3']);
  assert.deepEqual(order(settings({ source: 'ExternalMedia', overrideEnabled: true })), [
    'Slot_2',
    'Slot_3',
    'Slot_0',
    'Slot_1',
  ]);
  assert.deepEqual(order(settings({ source: 'Network', overrideEnabled: true })), [
    'Slot_2',
    'Slot_3',
    'Slot_0',
    'Slot_1',
  ]);
});

test('Once is consumed only by a boot with the override on; the firmware follows BootType', () => {
  assert.equal(bootPlan(settings({ overrideEnabled: true, oneTime: true }), slots).consumesOnce, true);
  assert.equal(bootPlan(settings({ overrideEnabled: true }), slots).consumesOnce, false);
  assert.equal(bootPlan(settings({ oneTime: true }), slots).consumesOnce, false);
  assert.equal(bootPlan(settings({}), slots).firmware, 'efi');
  assert.equal(bootPlan(settings({ type: 'Legacy' }), slots).firmware, 'legacy');
});

test('the command line: paused, empty CD drives with their bootindex, OVMF in pflash, commas doubled', () => {
  const plan = bootPlan(settings({ source: 'RemovableMedia', overrideEnabled: true }), slots);
  const paths = hostPaths('/run/a,b');
  const efi = { code: '/usr/share/OVMF/OVMF_CODE.fd', vars: paths.efiVars };
  const args = qemuArguments({ accelerator: 'tcg', memoryMiB: 512, efi, paths, slots, plan });
  const joined = args.join(' ');
  assert.equal(args[0], '-S');
  assert.match(joined, /-device ide-cd,bus=ide\.0,id=cd-Slot_2,bootindex=2 /);
  assert.match(joined, /-device ide-cd,bus=ide\.1,id=cd-Slot_3,bootindex=3/);
  assert.match(joined, /-device qemu-xhci,id=xhci/);
  assert.doesNotMatch(joined, /usb-storage/, 'USB sticks are plugged in over QMP with their medium');
  assert.match(joined, /if=pflash,format=raw,unit=0,readonly=on,file=\/usr\/share\/OVMF\/OVMF_CODE\.fd/);
  assert.match(joined, /unit=1,file=\/run\/a,,b\/host\/OVMF_VARS\.fd/);
  assert.match(joined, /file,id=console,path=\/run\/a,,b\/host-console\.log,append=on/);
  assert.match(joined, /socket,id=qmp,path=\/run\/a,,b\/host\/qmp\.sock,server=on,wait=off/);

  const legacy = qemuArguments({ accelerator: 'kvm', memoryMiB: 256, paths, slots: slots.slice(2), plan });
  assert.doesNotMatch(legacy.join(' '), /pflash|xhci/);
  assert.match(legacy.join(' '), /-accel kvm -cpu host -m 256/);
});
