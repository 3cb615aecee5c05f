// The virtual host's composition root: the slots from the daemon's config, the boot settings,
// the media watch, the power state machine booting QEMU, and the three D-Bus services.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type dbus from 'dbus-next';
import type { ServiceConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { createProcessRunner } from '../process/runner.js';
import { pickAccelerator } from './accelerator.js';
import { bootPlan } from './boot-plan.js';
import { BootSettings } from './boot-settings.js';
import { efiFirmware } from './firmware.js';
import { hostPaths, type HostPaths } from './host-paths.js';
import { VirtualHost } from './host-state.js';
import { startMachine } from './machine.js';
import { watchMedia } from './media-watch.js';
import { CHASSIS_PATH, CHASSIS_SERVICE, HOST_PATH, HOST_SERVICE, SETTINGS_SERVICE } from '../dbus/phosphor.js';
import { publishServices } from './services.js';
import { hostSlots } from './slots.js';
import { chassisObjects, hostObjects } from './state-objects.js';

export interface VirtualHostOptions {
  config: ServiceConfig;
  busAddress: string;
  memoryMiB: number;
  gracefulOffSeconds: number;
}

export interface RunningVirtualHost {
  paths: HostPaths;
  buses: dbus.MessageBus[];
  /** Forces the VM off, leaves the bus and removes the run's files but the console log. */
  stop(): Promise<void>;
}

export async function startVirtualHost(opts: VirtualHostOptions, log: Logger): Promise<RunningVirtualHost> {
  const slots = hostSlots(opts.config);
  const paths = hostPaths(opts.config.runtimeDir);
  mkdirSync(path.dirname(paths.qmpSocket), { recursive: true, mode: 0o700 });
  rmSync(paths.efiVars, { force: true }); // a fresh NVRAM for each run
  const accelerator = pickAccelerator();
  const runner = createProcessRunner(log);
  const settings = new BootSettings();
  const media = watchMedia(slots, log);
  const host = new VirtualHost({
    gracefulOffMs: opts.gracefulOffSeconds * 1000,
    log,
    async boot() {
      const plan = bootPlan(settings.snapshot(), slots);
      const efi = plan.firmware === 'efi' ? efiFirmware(paths.efiVars) : undefined;
      const command = { accelerator, memoryMiB: opts.memoryMiB, paths, slots, plan, ...(efi ? { efi } : {}) };
      const machine = await startMachine({ runner, log, media, command });
      if (plan.consumesOnce) settings.consumeOnce();
      return machine;
    },
  });

  let services;
  try {
    // the host's name last: whoever waits for it finds the other two there
    services = await publishServices(
      opts.busAddress,
      [
        { busName: SETTINGS_SERVICE, objectManagerPath: '/', objects: settings.objects() },
        { busName: CHASSIS_SERVICE, objectManagerPath: CHASSIS_PATH, objects: chassisObjects(host) },
        { busName: HOST_SERVICE, objectManagerPath: HOST_PATH, objects: hostObjects(host) },
      ],
      log,
    );
  } catch (err) {
    media.close();
    throw err;
  }
  log.info(
    { accelerator, slots: slots.map((s) => `${s.name} ${s.media}`), console: paths.consoleLog },
    'virtual host ready',
  );
  return {
    paths,
    buses: services.buses,
    async stop() {
      await host.close();
      media.close();
      await services.close();
      rmSync(paths.efiVars, { force: true });
    },
  };
}
