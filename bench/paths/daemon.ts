// The daemon as paths B and legacy run it: compiled (compiledCli), on a private bus, with the
// export host backend, one slot per path; and the busctl calls that mount and eject it.
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { BUS_NAME, IFACE, slotPath } from '../../src/dbus/names.js';
import { startDaemon, type RunningDaemon } from '../../test/helpers/daemon.js';
import { startTestBus } from '../../test/helpers/private-bus.js';
import { waitFor } from '../../test/helpers/wait.js';
import { unitMemoryEnvironment } from '../memory/unit-node-options.js';
import { compiledCli, rssMiB, sleep } from './measure.js';

const run = promisify(execFile);

export interface BenchDaemon {
  daemon: RunningDaemon;
  /** Its RSS (MiB) 3 s after it owned its bus name, before any Mount. */
  startedRssMiB: number;
  runtimeDir: string;
  /** `busctl call` on a slot of this daemon; returns its output. A slot still ejecting (Unmount
   *  completes after its reply) is waited for. */
  call(mode: 'Proxy' | 'Legacy', slot: string, method: string, ...args: string[]): Promise<string>;
  /** Resolves once something accepts connections on `socket` (a slot's export after Mount). */
  accepting(socket: string): Promise<void>;
  stop(): Promise<void>;
}

/** The compiled daemon with these MountPoints (and any other config keys) under `dir`. */
export async function startBenchDaemon(dir: string, config: Record<string, unknown>): Promise<BenchDaemon> {
  const bus = await startTestBus();
  const runtimeDir = path.join(dir, 'run');
  mkdirSync(runtimeDir, { recursive: true });
  const daemon = await startDaemon({
    busAddress: bus.address,
    entry: await compiledCli(),
    config: { InactivityTimeout: 0, HostBackend: 'export', RuntimeDir: runtimeDir, ...config },
    // as its unit runs it on a BMC: V8's flags and malloc's arenas shape its memory and CPU
    env: { VMEDIA_LOG_LEVEL: 'warn', ...unitMemoryEnvironment() },
  }).catch(async (err: unknown) => {
    await bus.stop();
    throw err;
  });
  await sleep(3000);
  return {
    daemon,
    startedRssMiB: rssMiB(daemon.pid),
    runtimeDir,
    call: (mode, slot, method, ...args) => {
      const iface = mode === 'Proxy' ? IFACE.proxy : IFACE.legacy;
      const argv = [`--address=${bus.address}`, '--', 'call', BUS_NAME, slotPath(mode, slot), iface, method, ...args];
      return waitFor(
        `${method} on ${slot} to be accepted`,
        async () => {
          try {
            return (await run('busctl', argv)).stdout.trim();
          } catch (err) {
            if ((err as { stderr?: string }).stderr?.includes('still ejecting')) return undefined;
            throw err;
          }
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
    },
    accepting: (socket) =>
      waitFor(
        `something to accept connections on ${socket}`,
        () =>
          new Promise<boolean>((resolve) => {
            const probe = net.connect(socket);
            probe.once('connect', () => {
              probe.destroy();
              resolve(true);
            });
            probe.once('error', () => resolve(false));
          }),
        { timeoutMs: 60_000, intervalMs: 20 },
      ).then(() => undefined),
    stop: async () => {
      await daemon.stop();
      await bus.stop();
    },
  };
}
