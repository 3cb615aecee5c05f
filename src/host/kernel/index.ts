// The kernel host backend (docs/architecture.md) with its real parts: nbd-client on /dev/nbdN, the
// udev monitor, the configfs gadget and the UDCs of sysfs, all under the roots of the config.
import type { Logger } from '../../log.js';
import type { ServiceConfig } from '../../config/types.js';
import type { HostBackend } from '../types.js';
import { createKernelBackend } from './backend.js';
import { createConfigfsGadget } from './gadget.js';
import { createNbdDevice } from './nbd-device.js';
import { createProcessRunner } from '../../process/runner.js';
import { listUdcs } from './udc.js';
import { startUdevMonitor, type UdevMonitor } from './udev-monitor.js';

export async function createKernelHostBackend(config: ServiceConfig, log: Logger): Promise<HostBackend> {
  const runner = createProcessRunner(log);
  let monitor: UdevMonitor | undefined;
  try {
    monitor = await startUdevMonitor(runner, log);
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'no udev monitor: NBD devices are watched by polling sysfs only');
  }
  return createKernelBackend({
    gadget: createConfigfsGadget(config.configfsRoot),
    monitor,
    device: (name) =>
      createNbdDevice({
        name,
        sysRoot: config.sysRoot,
        devRoot: config.devRoot,
        nbdClient: config.nbdClient,
        runner,
      }),
    udcs: () => listUdcs(config.sysRoot),
    queue: config.nbdQueue,
    log,
  });
}
