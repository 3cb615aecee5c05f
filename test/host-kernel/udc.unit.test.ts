// Choosing the USB device controller: a free one, or the pinned one if it exists and is free.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { MountError } from '../../src/errno.js';
import { listUdcs, pickUdc } from '../../src/host/kernel/udc.js';

const UDCS = ['1e6a0000.usb-vhub:p1', '1e6a0000.usb-vhub:p2', '1e6a0000.usb-vhub:p3'];

test("picks the first controller no gadget is bound to (not the KVM gadget's)", () => {
  assert.equal(pickUdc(UDCS, new Map([['1e6a0000.usb-vhub:p1', 'kvm-hid']])), '1e6a0000.usb-vhub:p2');
  assert.equal(pickUdc(UDCS, new Map()), '1e6a0000.usb-vhub:p1');
});

test('all busy: EBUSY naming who holds each', () => {
  const bound = new Map(UDCS.map((u, i) => [u, `g${i}`]));
  assert.throws(
    () => pickUdc(UDCS, bound),
    (err: MountError) => err.errno === 'EBUSY' && err.message.includes('1e6a0000.usb-vhub:p3 (g2)'),
  );
});

test('no controller at all: ENODEV', () => {
  assert.throws(
    () => pickUdc([], new Map()),
    (err: MountError) => err.errno === 'ENODEV',
  );
});

test('pinned: used when free, EBUSY when bound, ENODEV when unknown', () => {
  assert.equal(
    pickUdc(UDCS, new Map([['1e6a0000.usb-vhub:p1', 'kvm-hid']]), '1e6a0000.usb-vhub:p3'),
    '1e6a0000.usb-vhub:p3',
  );
  assert.throws(
    () => pickUdc(UDCS, new Map([['1e6a0000.usb-vhub:p3', 'kvm-hid']]), '1e6a0000.usb-vhub:p3'),
    (err: MountError) => err.errno === 'EBUSY' && err.message.includes('kvm-hid'),
  );
  assert.throws(
    () => pickUdc(UDCS, new Map(), 'dummy_udc.7'),
    (err: MountError) => err.errno === 'ENODEV' && err.message.includes('dummy_udc.7'),
  );
});

test('listUdcs reads <sysRoot>/class/udc sorted, and is empty without it', async () => {
  const root = mkdtempSync(path.join(tmpdir(), 'vmedia-sys-'));
  try {
    assert.deepEqual(await listUdcs(root), []);
    for (const u of ['dummy_udc.1', 'dummy_udc.0']) mkdirSync(path.join(root, 'class', 'udc', u), { recursive: true });
    assert.deepEqual(await listUdcs(root), ['dummy_udc.0', 'dummy_udc.1']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
