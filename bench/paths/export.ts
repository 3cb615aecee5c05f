// Path B: the daemon's export host backend (our NBD client on the slot socket, our NBD server on
// the ExportSocket) in front of `nbdkit file` on a Proxy slot's socket, against reading that
// nbdkit directly; nbdcopy with 4 connections, as QEMU or a test reads an export. A second
// variant has `vmedia nbd serve` upstream instead: it sends from a 2 MiB send buffer as the web
// bridge does in production, where nbdkit sends from the system's default. A third variant puts
// socat (a C relay, one upstream connection per client connection) where the daemon is: what
// any process between two sockets costs, whatever its language; a fourth nbdkit's own
// NBD relay (its nbd plugin: an NBD client and server in C, like the daemon here); a fifth a bare
// Node relay (node-relay.mjs: Node's streams piped both ways): what a Node process between two
// sockets costs before it does anything of its own.
import { rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportBackendSlot } from '../../test/helpers/daemon.js';
import { startChild, startNbdkit, type Child } from '../../test/nbd/helpers.js';
import { childrenOf } from '../../test/reliability/helpers/proc.js';
import { startBenchDaemon } from './daemon.js';
import {
  cachedRandomImage,
  compiledCli,
  interleaved,
  measureTransfer,
  nbdcopyToNull,
  serveOurs,
  sleep,
  type PathBenchmark,
} from './measure.js';

const CONNECTIONS = 4;
const NODE_RELAY = fileURLToPath(new URL('node-relay.mjs', import.meta.url));

const benchmark: PathBenchmark = {
  title: 'daemon export backend in front of `nbdkit file` vs nbdkit read directly (nbdcopy, 4 connections)',
  async run({ dir, sizeMiB, rounds, note }) {
    const bytes = sizeMiB * 1024 * 1024;
    const file = await cachedRandomImage(dir, bytes);
    const bench = await startBenchDaemon(dir, {
      MountPoints: { Slot_0: exportBackendSlot('Proxy', 0) },
    });
    const slotSocket = path.join(bench.runtimeDir, 'nbd0.sock');
    const exportSocket = path.join(bench.runtimeDir, 'export/Slot_0.sock');
    note(`daemon RSS at start, no Mount: ${bench.startedRssMiB.toFixed(0)} MiB`);
    try {
      const direct = async () => {
        const kit = await startNbdkit(dir, ['file', file], ['--readonly']);
        try {
          return await measureTransfer({
            path: 'B',
            variant: 'nbdkit file read directly',
            bytes,
            watched: [{ name: 'nbdkit', pid: kit.process.pid! }],
            transfer: () => nbdcopyToNull(kit.uri, CONNECTIONS),
            settleMs: 2000,
          });
        } finally {
          await kit.stop();
        }
      };
      /** The daemon's Proxy Mount in front of a fresh upstream where the web bridge would listen. */
      const throughDaemon = async (variant: string, upstreamName: string, start: () => Promise<Child>) => {
        const upstream = await start();
        rmSync(slotSocket, { force: true });
        symlinkSync(upstream.socket, slotSocket);
        try {
          const reply = await bench.call('Proxy', 'Slot_0', 'Mount');
          if (reply !== 'b true') throw new Error(`Proxy Mount: ${reply}`);
          await bench.accepting(exportSocket);
          return await measureTransfer({
            path: 'B',
            variant,
            reference: 'nbdkit file read directly',
            bytes,
            watched: [
              { name: 'daemon', pid: bench.daemon.pid },
              { name: upstreamName, pid: upstream.process.pid! },
            ],
            transfer: () => nbdcopyToNull(`nbd+unix:///?socket=${exportSocket}`, CONNECTIONS),
          });
        } finally {
          await bench.call('Proxy', 'Slot_0', 'Unmount').catch(() => undefined);
          await upstream.stop();
        }
      };
      const throughDaemonToNbdkit = () =>
        throughDaemon('daemon export → nbdkit file', 'nbdkit', () => startNbdkit(dir, ['file', file], ['--readonly']));
      // the web sends the page's replies from a 2 MiB send buffer (src/net/send-buffer.ts), nbdkit
      // from the system's default: `vmedia nbd serve` sends as the web does
      const throughDaemonToOurs = async () =>
        throughDaemon('daemon export → vmedia nbd serve (sends as the web)', 'vmedia nbd serve', async () =>
          serveOurs(await compiledCli(), file, dir),
        );
      const relaySocket = path.join(dir, 'relay.sock');
      /**
       * A relay process in front of a fresh nbdkit (its socket `upstream`), measured as B's other
       * variants; one that listens where it is told listens on relaySocket.
       */
      const throughRelay = async (variant: string, name: string, start: (upstream: string) => Promise<Child>) => {
        const kit = await startNbdkit(dir, ['file', file], ['--readonly']);
        rmSync(relaySocket, { force: true });
        const relay = await start(kit.socket);
        try {
          return await measureTransfer({
            path: 'B',
            variant,
            reference: 'nbdkit file read directly',
            bytes,
            watched: [
              { name, pid: relay.process.pid! },
              { name: 'nbdkit', pid: kit.process.pid! },
            ],
            transfer: async () => {
              await nbdcopyToNull(relay.uri, CONNECTIONS);
              // socat forks a relay per connection; its CPU counts once the parent has reaped them
              for (let i = 0; i < 100 && childrenOf(relay.process.pid!).length > 0; i++) await sleep(20);
            },
          });
        } finally {
          await relay.stop();
          await kit.stop();
        }
      };
      const throughSocat = () =>
        throughRelay('socat relay → nbdkit file', 'socat (relays)', (upstream) =>
          startChild(
            'socat',
            ['-b', String(256 * 1024), `UNIX-LISTEN:${relaySocket},fork`, `UNIX-CONNECT:${upstream}`],
            relaySocket,
            'socat',
          ),
        );
      const throughNbdkitRelay = () =>
        throughRelay('nbdkit nbd plugin → nbdkit file', 'nbdkit nbd', (upstream) =>
          startNbdkit(dir, ['nbd', `socket=${upstream}`], ['--readonly']),
        );
      const throughNode = () =>
        throughRelay('bare node relay → nbdkit file', 'node relay', (upstream) =>
          startChild(process.execPath, [NODE_RELAY, relaySocket, upstream], relaySocket, 'the node relay'),
        );
      return await interleaved(rounds, [
        direct,
        throughDaemonToNbdkit,
        throughDaemonToOurs,
        throughSocat,
        throughNbdkitRelay,
        throughNode,
      ]);
    } finally {
      await bench.stop();
    }
  },
};
export default benchmark;
