// The kernel host backend (ARCHITECTURE §6): nbd-client → /dev/nbdN, udev watch, configfs USB
// mass-storage gadget. Being built now: attach() rejects until the pieces land.
import { MountError } from '../../errno.js';
import type { Logger } from '../../log.js';
import type { ServiceConfig } from '../../config/types.js';
import type { HostBackend } from '../types.js';

export async function createKernelHostBackend(config: ServiceConfig, log: Logger): Promise<HostBackend> {
  void config;
  return {
    name: 'kernel',
    async cleanupStale() {
      log.debug('kernel backend: nothing to clean up yet');
    },
    async attach() {
      throw new MountError('ENOTSUP', 'kernel host backend is not implemented yet');
    },
    async close() {},
  };
}
