// Path A: `vmedia nbd serve FILE` alone against `nbdkit file FILE`, read whole by nbdcopy with 1
// and 4 connections. The file is read once first so that both servers read from the page cache:
// the figures compare the servers, not the disk.
import { makeTempDir, startNbdkit } from '../../test/nbd/helpers.js';
import {
  cachedRandomImage,
  compiledCli,
  interleaved,
  measureTransfer,
  nbdcopyToNull,
  serveOurs,
  type PathBenchmark,
} from './measure.js';

const benchmark: PathBenchmark = {
  title: '`vmedia nbd serve` vs `nbdkit file`, nbdcopy with 1 and 4 connections',
  async run({ dir, sizeMiB, rounds }) {
    const file = await cachedRandomImage(dir, sizeMiB * 1024 * 1024);
    const cli = await compiledCli();
    const tmp = makeTempDir('vmedia-bench-a-');
    /** A fresh server per transfer: its idle RSS is a started server's, not the last transfer's after. */
    const once = (ours: boolean, connections: number) => async () => {
      const server = ours
        ? await serveOurs(cli, file, tmp.dir)
        : await startNbdkit(tmp.dir, ['file', file], ['--readonly']);
      try {
        return await measureTransfer({
          path: 'A',
          variant: `${ours ? 'vmedia nbd serve' : 'nbdkit file'}, ${connections} conn${connections > 1 ? 's' : ''}`,
          ...(ours ? { reference: `nbdkit file, ${connections} conn${connections > 1 ? 's' : ''}` } : {}),
          bytes: sizeMiB * 1024 * 1024,
          watched: [{ name: ours ? 'vmedia nbd serve' : 'nbdkit', pid: server.process.pid! }],
          transfer: () => nbdcopyToNull(server.uri, connections),
          settleMs: 2000,
        });
      } finally {
        await server.stop();
      }
    };
    try {
      return await interleaved(rounds, [once(false, 1), once(true, 1), once(false, 4), once(true, 4)]);
    } finally {
      tmp.remove();
    }
  },
};
export default benchmark;
