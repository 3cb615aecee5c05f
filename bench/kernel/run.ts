// Where the kernel chain loses read speed (a script, not a test; inside the QEMU VM only):
//   bash test/vm/harness/run-in-vm.sh --mem 2G --cpus 2 -- node --import tsx bench/kernel/run.ts [--mib 64] [--runs 2]
// One image served by nbdkit on a Unix socket, read three ways, page caches dropped before each:
//   1. nbdcopy from the socket (the reference: NBD alone, no kernel block layer)
//   2. /dev/nbdN after nbd-client (kernel NBD client + block layer), dd bs=1M iflag=direct
//   3. /dev/sdX, the host's view through the USB mass-storage gadget (dummy_hcd loop-back),
//      attached by the real kernel backend, dd bs=1M iflag=direct
// Prints MiB/s and each as a ratio of the reference; writes bench/out/kernel.json.
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.js';
import { createKernelHostBackend } from '../../src/host/kernel/index.js';
import { waitForHostDisk } from '../../test/vm/helpers/host-disk.js';
import { createRandomImage, MiB } from '../../test/vm/helpers/image.js';
import { gadgetAttr } from '../../test/vm/helpers/kernel-state.js';
import { startNbdkitFile } from '../../test/vm/helpers/nbdkit.js';
import { requireVm, vmTempDir } from '../../test/vm/helpers/vm.js';

requireVm();
const run = promisify(execFile);
const OUT = fileURLToPath(new URL('../out/kernel.json', import.meta.url));
const { values } = parseArgs({
  options: { mib: { type: 'string', default: '64' }, runs: { type: 'string', default: '2' } },
});
const mib = Number(values.mib);
const runs = Number(values.runs);

const dir = vmTempDir('vmedia-bench-kernel');
const image = path.join(dir, 'image.bin');
await createRandomImage(image, mib * MiB);
const socket = path.join(dir, 'nbd0.sock');
const server = await startNbdkitFile({ socket, file: image, readonly: true });
const config = parseConfig(
  {
    HostBackend: 'kernel',
    MountPoints: { Slot_0: { Mode: 0, EndpointId: '/nbd/0', NBDDevice: 'nbd0', UnixSocket: socket, Timeout: 30 } },
  },
  dir,
  'bench',
  { runtimeDir: dir },
);
const backend = await createKernelHostBackend(config, pino({ level: 'warn' }, pino.destination(2)));

/** Best of `runs` timed reads, in MiB/s, with the page caches dropped before each. */
async function measure(what: string, read: () => Promise<unknown>): Promise<number> {
  let best = 0;
  for (let i = 0; i < runs; i++) {
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    const start = performance.now();
    await read();
    best = Math.max(best, mib / ((performance.now() - start) / 1000));
  }
  process.stdout.write(`${what.padEnd(44)} ${best.toFixed(1).padStart(7)} MiB/s\n`);
  return best;
}

const dd = (device: string) => run('dd', [`if=${device}`, 'of=/dev/null', 'bs=1M', 'iflag=direct']);
try {
  const reference = await measure('nbdcopy from the socket (reference)', () =>
    run('nbdcopy', [`nbd+unix:///?socket=${socket}`, 'null:']),
  );
  const slot = config.slots[0]!;
  const attachStart = performance.now();
  const attachment = await backend.attach({ slot, socket, writable: false, mediaType: 'USBStick' }, () => undefined);
  const attachMs = performance.now() - attachStart;
  const disk = await waitForHostDisk(gadgetAttr('mass-storage-Slot_0', 'strings/0x409/serialnumber'));
  const visibleMs = performance.now() - attachStart;
  const nbd = await measure('/dev/nbd0 (nbd-client, block layer)', () => dd('/dev/nbd0'));
  const gadget = await measure(`${disk.path} (USB gadget on dummy_hcd)`, () => dd(disk.path));
  await attachment.detach();
  const result = {
    mib,
    runs,
    accel: 'tcg',
    reference,
    nbd,
    gadget,
    ratios: { nbdVsReference: nbd / reference, gadgetVsReference: gadget / reference, gadgetVsNbd: gadget / nbd },
    attachMs: Math.round(attachMs),
    hostDiskVisibleMs: Math.round(visibleMs),
  };
  process.stdout.write(
    `ratios: /dev/nbd0 ${result.ratios.nbdVsReference.toFixed(2)}, gadget ${result.ratios.gadgetVsReference.toFixed(2)} ` +
      `of the reference (gadget/nbd ${result.ratios.gadgetVsNbd.toFixed(2)}); attach ${result.attachMs} ms, host disk after ${result.hostDiskVisibleMs} ms\n`,
  );
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await backend.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
