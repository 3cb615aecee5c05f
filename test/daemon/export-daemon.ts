// The daemon as this folder's D-Bus tests drive it: on a private bus of its own, the export host
// backend, no inactivity timeout, its runtime dir in the bus's dir, and a BusClient on that bus.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { startTestBus, type TestBus } from '../helpers/private-bus.js';
import { BusClient } from './bus-client.js';

export interface ExportDaemon {
  bus: TestBus;
  daemon: RunningDaemon;
  client: BusClient;
  runtimeDir: string;
  /** The client, the daemon, then the bus. */
  stop: () => Promise<void>;
}

/** `config` adds to or overrides the keys above (MountPoints at least). */
export async function startExportDaemon(config: Record<string, unknown>): Promise<ExportDaemon> {
  const bus = await startTestBus();
  let daemon: RunningDaemon | undefined;
  let client: BusClient | undefined;
  const stop = async () => {
    client?.close();
    await daemon?.stop();
    await bus.stop();
  };
  try {
    const runtimeDir = path.join(bus.dir, 'run');
    mkdirSync(runtimeDir);
    daemon = await startDaemon({
      busAddress: bus.address,
      config: { InactivityTimeout: 0, HostBackend: 'export', RuntimeDir: runtimeDir, ...config },
    });
    client = await BusClient.connect(bus.address);
    return { bus, daemon, client, runtimeDir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
