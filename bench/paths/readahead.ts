// Path legacy: a Legacy slot's network source, `nbdkit curl` behind our read-ahead (the daemon's
// NbdServer on the slot socket, 4 upstream connections), against `nbdkit curl` alone; both read
// whole with nbdcopy (4 connections) from a local HTTPS image server (in this process, not
// measured). Two more variants read the slot socket as the kernel backend does, with NbdQueue's
// defaults and with the kernel's own queue settings (KERNEL_READS, KERNEL_READS_UNTUNED). The
// daemon's nbdkit child is measured with it: the path's CPU is both. The daemon runs with its
// unit's memory environment (startBenchDaemon), as on a BMC: its RSS after a transfer depends on
// it.
import path from 'node:path';
import { exportBackendSlot } from '../../test/helpers/daemon.js';
import { startHttpsImages } from '../../test/helpers/https-images.js';
import { startNbdkit } from '../../test/nbd/helpers.js';
import { childrenOf } from '../../test/reliability/helpers/proc.js';
import { randomImage } from '../../test/sources/helpers/provider.js';
import { startBenchDaemon } from './daemon.js';
import {
  interleaved,
  KERNEL_READS,
  KERNEL_READS_UNTUNED,
  measureTransfer,
  NBDCOPY_DEFAULT_READS,
  nbdcopyToNull,
  type NbdcopyReads,
  type PathBenchmark,
} from './measure.js';

/** How the slot socket is read: as `nbdkit curl alone` is, then as the kernel reads. */
const CONSUMERS: readonly NbdcopyReads[] = [NBDCOPY_DEFAULT_READS, KERNEL_READS, KERNEL_READS_UNTUNED];

const benchmark: PathBenchmark = {
  title: 'Legacy read-ahead (daemon) over `nbdkit curl` vs `nbdkit curl` alone, HTTPS on loopback',
  async run({ dir, sizeMiB, rounds, note }) {
    const bytes = sizeMiB * 1024 * 1024;
    const image = path.join(dir, 'disk.img');
    await randomImage(image, sizeMiB);
    const { ca, trustStore, server } = await startHttpsImages(dir, { files: new Map([['/disk.img', image]]) });
    const url = `${server.origin}/disk.img`;
    const bench = await startBenchDaemon(dir, {
      AllowPrivateSourceHosts: true,
      TrustStore: trustStore,
      MountPoints: { Slot_2: exportBackendSlot('Legacy', 2) },
    });
    const slotSocket = path.join(bench.runtimeDir, 'nbd2.sock');
    note(`daemon RSS at start, no Mount: ${bench.startedRssMiB.toFixed(0)} MiB`);
    try {
      const alone = async () => {
        const kit = await startNbdkit(dir, ['curl', `url=${url}`, `cainfo=${ca.caCertFile}`], ['--readonly']);
        try {
          return await measureTransfer({
            path: 'legacy',
            variant: 'nbdkit curl alone',
            bytes,
            watched: [{ name: 'nbdkit curl', pid: kit.process.pid! }],
            transfer: () => nbdcopyToNull(kit.uri, NBDCOPY_DEFAULT_READS.connections),
            settleMs: 2000,
          });
        } finally {
          await kit.stop();
        }
      };
      const readahead = async (consumer: NbdcopyReads) => {
        const reply = await bench.call('Legacy', 'Slot_2', 'Mount', 'sbv', url, 'false', 'i', '-1');
        if (reply !== 'b true') throw new Error(`Legacy Mount: ${reply}`);
        try {
          await bench.accepting(slotSocket);
          const nbdkit = childrenOf(bench.daemon.pid).find((c) => c.name === 'nbdkit');
          if (!nbdkit) throw new Error('the daemon runs no nbdkit after Mount');
          return await measureTransfer({
            path: 'legacy',
            variant: `read-ahead → nbdkit curl; ${consumer.label}`,
            reference: 'nbdkit curl alone',
            bytes,
            watched: [
              { name: 'daemon', pid: bench.daemon.pid },
              { name: 'nbdkit curl (daemon’s)', pid: nbdkit.pid },
            ],
            transfer: () =>
              nbdcopyToNull(
                `nbd+unix:///?socket=${slotSocket}`,
                consumer.connections,
                consumer.requests,
                consumer.requestBytes,
              ),
          });
        } finally {
          await bench.call('Legacy', 'Slot_2', 'Unmount').catch(() => undefined);
        }
      };
      return await interleaved(rounds, [alone, ...CONSUMERS.map((consumer) => () => readahead(consumer))]);
    } finally {
      await bench.stop();
      await server.close();
    }
  },
};
export default benchmark;
