// The udev monitor: udevadm's `--property` output (as captured in the VM) parsed into events,
// and the real monitor code running a stand-in program that prints that output.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { createProcessRunner } from '../../src/process/runner.js';
import { createUdevEventParser, startUdevMonitor, type BlockEvent } from '../../src/host/kernel/udev-monitor.js';

// udevadm 252 in the Debian 6.1 VM, nbd-client connecting then disconnecting /dev/nbd0
const CAPTURED = `monitor will print the received events for:
KERNEL - the kernel uevent

KERNEL[13.678484] change   /devices/virtual/block/nbd0 (block)
ACTION=change
DEVPATH=/devices/virtual/block/nbd0
SUBSYSTEM=block
DEVNAME=/dev/nbd0
DEVTYPE=disk
DISKSEQ=1
SEQNUM=762
MAJOR=43
MINOR=0

KERNEL[27.665565] change   /devices/virtual/block/nbd2 (block)
ACTION=change
DEVPATH=/devices/virtual/block/nbd2
SUBSYSTEM=block
SYNTH_UUID=0
DEVNAME=/dev/nbd2
DEVTYPE=disk
DISKSEQ=3
SEQNUM=766
MAJOR=43
MINOR=32

KERNEL[41.737781] add      /devices/platform/dummy_hcd.0/usb1/1-1/1-1:1.0/host0/target0:0:0/0:0:0:0/block/sda (block)
ACTION=add
DEVPATH=/devices/platform/dummy_hcd.0/usb1/1-1/1-1:1.0/host0/target0:0:0/0:0:0:0/block/sda
SUBSYSTEM=block
DEVTYPE=disk

`;

test('parser: one event per block, device from DEVNAME (or DEVPATH), banner ignored', () => {
  const events: BlockEvent[] = [];
  const parse = createUdevEventParser((e) => events.push(e));
  for (const line of CAPTURED.split('\n')) parse(line);
  assert.deepEqual(
    events.map((e) => [e.action, e.device]),
    [
      ['change', 'nbd0'],
      ['change', 'nbd2'],
      ['add', 'sda'],
    ],
  );
  assert.equal(events[1]?.properties.SYNTH_UUID, '0');
  assert.equal(events[0]?.properties.MINOR, '0');
});

test('parser: an event cut off before its blank line is not reported, the next one is', () => {
  const events: BlockEvent[] = [];
  const parse = createUdevEventParser((e) => events.push(e));
  for (const line of [
    'KERNEL[1.0] change /x (block)',
    'ACTION=change',
    'KERNEL[2.0] remove /y (block)',
    'ACTION=remove',
    'DEVNAME=/dev/nbd5',
    '',
  ])
    parse(line);
  assert.deepEqual(
    events.map((e) => [e.action, e.device]),
    [['remove', 'nbd5']],
  );
});

test('startUdevMonitor runs the program, waits for its banner and delivers events to subscribers', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-udev-'));
  try {
    const fake = path.join(dir, 'udevadm');
    // the banner, then (once subscribed) the captured events; then it stays alive like udevadm does
    const [banner, events] = [
      CAPTURED.slice(0, CAPTURED.indexOf('KERNEL[')),
      CAPTURED.slice(CAPTURED.indexOf('KERNEL[')),
    ];
    writeFileSync(path.join(dir, 'banner.txt'), banner);
    writeFileSync(path.join(dir, 'events.txt'), events);
    writeFileSync(
      fake,
      `#!/bin/sh\n[ "$*" = "monitor --kernel --subsystem-match=block --property" ] || exit 9\n` +
        `cat ${dir}/banner.txt\nsleep 0.5\ncat ${dir}/events.txt\nexec sleep 60\n`,
    );
    chmodSync(fake, 0o755);
    const log = pino({ level: 'silent' });
    const seen: string[] = [];
    const gotThree = new Promise<void>((resolve) => {
      void startUdevMonitor(createProcessRunner(log), log, fake).then((monitor) => {
        monitor.subscribe((e) => {
          seen.push(`${e.action} ${e.device}`);
          if (seen.length === 3) void monitor.close().then(resolve);
        });
      });
    });
    await gotThree;
    assert.deepEqual(seen, ['change nbd0', 'change nbd2', 'add sda']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
