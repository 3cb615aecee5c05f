// The composition root of the D-Bus service: the one place the concrete host backend and
// Legacy source provider are chosen (the mount points know only their interfaces). The CLI
// runs it against a real bus; tests can build a daemon in-process the same way.
import { mkdirSync } from 'node:fs';
import type dbus from 'dbus-next';
import type { ServiceConfig } from '../config/types.js';
import { connectBus } from '../dbus/connect.js';
import type { HostBackend } from '../host/types.js';
import type { Logger } from '../log.js';
import { MountPoint } from '../mountpoint/mount-point.js';
import { createSourceProvider } from '../sources/index.js';
import type { SourceProvider } from '../sources/types.js';
import { lockRuntimeDir } from './runtime-lock.js';
import { publishVirtualMedia } from './service.js';

/** Only the chosen backend's modules are loaded: start-up time is mostly module loading. */
async function createHostBackend(config: ServiceConfig, log: Logger): Promise<HostBackend> {
  if (config.hostBackend === 'kernel') {
    const { createKernelHostBackend } = await import('../host/kernel/index.js');
    return createKernelHostBackend(config, log);
  }
  const { createExportHostBackend } = await import('../host/export/index.js');
  return createExportHostBackend(config, log);
}

export interface RunningService {
  bus: dbus.MessageBus;
  /** Ejects all media, leaves the bus (unless it is gone), stops the parts. */
  stop(opts: { busLost: boolean }): Promise<void>;
}

/** Builds the service from the concrete parts; on a failure undoes what it started and throws. */
export async function startService(config: ServiceConfig, busChoice: string, log: Logger): Promise<RunningService> {
  mkdirSync(config.runtimeDir, { recursive: true, mode: 0o755 });
  // taken before any part clears what an earlier run left in the dir, which must not be a live daemon's
  const lock = lockRuntimeDir(config.runtimeDir);
  // independent start-up work (probing nbdkit, the bus handshake) overlaps
  const parts = await Promise.allSettled([
    createHostBackend(config, log),
    createSourceProvider(config, log),
    connectBus(busChoice, { fdPassing: true }),
  ] as const);
  const [host, sources, bus] = parts.map((p) => (p.status === 'fulfilled' ? p.value : undefined)) as [
    HostBackend | undefined,
    SourceProvider | undefined,
    dbus.MessageBus | undefined,
  ];
  const undo = async () => {
    bus?.disconnect();
    await host?.close();
    await sources?.close();
    lock.release();
  };
  try {
    const failed = parts.find((p) => p.status === 'rejected');
    if (failed) throw failed.reason;
    await host!.cleanupStale(config.slots);
    const mountPoints = config.slots.map(
      (slot) =>
        new MountPoint({
          slot,
          host: host!,
          sources: sources!,
          log: log.child({ slot: slot.name }),
          inactivityTimeout: config.inactivityTimeout,
        }),
    );
    const published = await publishVirtualMedia(bus!, mountPoints, sources!, log);
    return {
      bus: bus!,
      async stop({ busLost }) {
        await Promise.all(mountPoints.map((mp) => mp.shutdown()));
        if (!busLost)
          await published.unpublish().catch((err: Error) => log.warn({ err: err.message }, 'leaving the bus failed'));
        await undo();
      },
    };
  } catch (err) {
    await undo();
    throw err;
  }
}
