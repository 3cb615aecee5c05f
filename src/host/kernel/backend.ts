// The kernel host backend's logic over its hardware interfaces: connect /dev/nbdN to the slot
// socket, wait until it has a size, bind a mass-storage gadget on a free UDC; undo in reverse.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { MountError } from '../../errno.js';
import type { Logger } from '../../log.js';
import type { NbdQueueConfig, SlotConfig } from '../../config/types.js';
import type { HostAttachment, HostAttachRequest, HostBackend, HostStats } from '../types.js';
import type { Gadget } from './gadget.js';
import type { NbdDevice } from './nbd-device.js';
import { describeExit, type RunningProcess } from '../../process/runner.js';
import { waitForSize, watchSize } from './size-watch.js';
import { pickUdc } from './udc.js';
import type { UdevMonitor } from './udev-monitor.js';

export interface KernelParts {
  gadget: Gadget;
  /** undefined when udevadm could not start: sysfs polling alone then. */
  monitor: UdevMonitor | undefined;
  device(name: string): NbdDevice;
  /** Names of the USB device controllers the kernel has. */
  udcs(): Promise<string[]>;
  /** What setQueue() gives each device before its gadget opens it. */
  queue: NbdQueueConfig;
  log: Logger;
}

export interface KernelTiming {
  /** Fallback sysfs re-read interval while waiting or watching. */
  pollMs: number;
  /** After NBD disconnect, how long nbd-client gets to exit before SIGTERM (and again before SIGKILL). */
  killAfterMs: number;
  /** How long a disconnect may take to bring the device's size to 0. */
  releaseTimeoutMs: number;
}

export const DEFAULT_TIMING: KernelTiming = { pollMs: 1000, killAfterMs: 2000, releaseTimeoutMs: 15000 };

export function gadgetName(slot: SlotConfig): string {
  return `mass-storage-${slot.name}`;
}

/** Stable per BMC and slot, so the host sees the same device again; hex digits as the USB
 *  mass-storage (bulk-only) spec asks of serial numbers. */
export function gadgetSerial(slot: SlotConfig): string {
  return createHash('sha256').update(`${hostname()}/${slot.name}`).digest('hex').slice(0, 24).toUpperCase();
}

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
}

export function createKernelBackend(parts: KernelParts, timing: KernelTiming = DEFAULT_TIMING): HostBackend {
  const { gadget, monitor, log } = parts;
  let gadgetLock: Promise<unknown> = Promise.resolve();
  /** Picking a UDC and binding it must not interleave between slots, or two would pick the same. */
  function withGadgetLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = gadgetLock.then(fn, fn);
    gadgetLock = run.catch(() => undefined);
    return run;
  }

  /** NBD disconnect, then nbd-client gets killAfterMs to exit before SIGTERM, then SIGKILL;
   *  resolves when the process is gone and the device's size is 0. */
  async function release(device: NbdDevice, client: RunningProcess | undefined): Promise<void> {
    const ok = await device.disconnect().catch((err: Error) => {
      log.warn({ device: device.name, err: err.message }, 'nbd-client -d could not run');
      return false;
    });
    if (!ok) log.warn({ device: device.name }, 'nbd-client -d failed; waiting for the device anyway');
    if (client) {
      for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
        if (await Promise.race([client.exited.then(() => true), delay(timing.killAfterMs, false)])) break;
        log.warn({ device: device.name, pid: client.pid, signal }, 'nbd-client did not exit after disconnect');
        client.kill(signal);
      }
      await client.exited;
    }
    await waitForSize(
      {
        device,
        monitor,
        pollMs: timing.pollMs,
        timeoutMs: timing.releaseTimeoutMs,
        goal: 'disconnected',
      },
      (bytes) => bytes === 0,
    ).catch((err: Error) => {
      throw new MountError('EBUSY', `/dev/${device.name} is still connected after NBD disconnect: ${err.message}`);
    });
  }

  /** Starts nbd-client and waits for the device to get a size. Returns the process while it
   *  carries the link (ioctl mode), undefined when it hands the link to the kernel (netlink). */
  async function connect(device: NbdDevice, req: HostAttachRequest): Promise<RunningProcess | undefined> {
    const client = await device.connect(req.socket, req.slot.timeout, req.slot.blockSize);
    const abort = new AbortController();
    const exited = client.exited.then((exit) => {
      // netlink: exiting 0 is how nbd-client says it connected; ioctl: any exit is a failure
      if (device.linkOutlivesClient && exit.code === 0) return;
      throw new MountError(
        'ECONNREFUSED',
        `nbd-client for /dev/${device.name} ended (${describeExit(exit)}) before the device was connected`,
      );
    });
    const sized = waitForSize(
      {
        device,
        monitor,
        pollMs: timing.pollMs,
        timeoutMs: req.slot.timeout * 1000,
        goal: 'connected',
        signal: abort.signal,
      },
      (bytes) => bytes > 0,
    );
    try {
      await (device.linkOutlivesClient ? Promise.all([exited, sized]) : Promise.race([exited, sized]));
    } catch (err) {
      abort.abort(err);
      await release(device, client).catch((e: Error) =>
        log.error({ device: device.name, err: e.message }, 'cleanup after a failed connect'),
      );
      throw err;
    } finally {
      abort.abort(new Error('connected'));
      exited.catch(() => undefined);
      sized.catch(() => undefined);
    }
    return device.linkOutlivesClient ? undefined : client;
  }

  /** The request sizes the host's reads reach the slot's server with. A kernel that refuses them
   *  still serves the image, in 128 KiB requests: worth a warning, not a failed mount. */
  async function setQueue(device: NbdDevice, slot: SlotConfig): Promise<void> {
    try {
      const set = await device.setQueue(parts.queue);
      log.debug({ slot: slot.name, device: device.name, ...set }, 'NBD block queue set');
    } catch (err) {
      log.warn(
        { slot: slot.name, device: device.name, err: (err as Error).message, wanted: parts.queue },
        "could not set the NBD device's read-ahead and request size: the host's reads stay at the kernel's default",
      );
    }
  }

  async function attach(req: HostAttachRequest, onLost: (err: MountError) => void): Promise<HostAttachment> {
    const { slot } = req;
    const device = parts.device(slot.nbdDevice);
    if (!device.exists())
      throw new MountError('ENODEV', `no /dev/${device.name}: is the nbd module loaded with enough nbds_max?`);
    if ((await device.size()) > 0 || (await device.owner()) !== undefined) {
      throw new MountError('EBUSY', `/dev/${device.name} is already connected by another process`);
    }
    const name = gadgetName(slot);
    const client = await connect(device, req);
    await setQueue(device, slot);
    let udc: string;
    try {
      udc = await withGadgetLock(async () => {
        const picked = pickUdc(await parts.udcs(), await gadget.boundUdcs(), slot.udc);
        await gadget.create({
          name,
          backingFile: device.path,
          cdrom: req.mediaType === 'CD',
          // a CD-ROM is read-only media: the host's sr driver never writes
          readOnly: !req.writable || req.mediaType === 'CD',
          serialNumber: gadgetSerial(slot),
          udc: picked,
        });
        return picked;
      });
    } catch (err) {
      await release(device, client).catch((e: Error) =>
        log.error({ device: device.name, err: e.message }, 'cleanup after a failed gadget set-up'),
      );
      throw err;
    }
    log.info(
      { slot: slot.name, device: device.name, udc, mediaType: req.mediaType, writable: req.writable },
      'media attached to the host',
    );

    const baseline = device.stats();
    let last: HostStats = { readBytes: 0, writeBytes: 0, inFlight: 0 };
    let detaching: Promise<void> | undefined;
    let lost = false;
    const reportLost = (reason: string): void => {
      if (detaching || lost) return;
      lost = true;
      log.warn({ slot: slot.name, device: device.name }, reason);
      onLost(new MountError('ECONNREFUSED', reason));
    };
    void client?.exited.then((exit) =>
      reportLost(
        `nbd-client for /dev/${device.name} exited (${describeExit(exit)}): the link to the NBD server is gone`,
      ),
    );
    const stopWatch = watchSize({
      device,
      monitor,
      pollMs: timing.pollMs,
      onSize: (bytes) => {
        if (bytes === 0) reportLost(`/dev/${device.name} was disconnected`);
      },
      onError: (err) => reportLost(`cannot read the size of /dev/${device.name}: ${err.message}`),
    });

    return {
      stats() {
        try {
          const now = device.stats();
          last = {
            readBytes: now.readBytes - baseline.readBytes,
            writeBytes: now.writeBytes - baseline.writeBytes,
            inFlight: now.inFlight,
          };
        } catch (err) {
          log.debug(
            { device: device.name, err: (err as Error).message },
            'block stat unreadable; keeping the last counters',
          );
        }
        return last;
      },
      detach() {
        detaching ??= (async () => {
          stopWatch();
          // strictly in reverse: the gadget lets go of /dev/nbdN, then the link goes
          let gadgetError: unknown;
          await gadget.remove(name).catch((err: unknown) => {
            gadgetError = err;
          });
          await release(device, client);
          if (gadgetError) {
            throw new MountError(
              'EBUSY',
              `USB gadget ${name} could not be removed: ${(gadgetError as Error).message}`,
              { cause: gadgetError },
            );
          }
          log.info({ slot: slot.name, device: device.name }, 'media detached from the host');
        })();
        return detaching;
      },
    };
  }

  return {
    name: 'kernel',
    attach,

    async cleanupStale(slots) {
      for (const slot of slots) {
        try {
          const name = gadgetName(slot);
          if (await gadget.exists(name)) {
            log.warn({ slot: slot.name, gadget: name }, 'removing a USB gadget left by an earlier run');
            await gadget.remove(name);
          }
          const device = parts.device(slot.nbdDevice);
          if (!device.exists()) continue;
          const owner = await device.owner();
          if ((await device.size()) > 0 || owner !== undefined) {
            log.warn(
              { slot: slot.name, device: device.name, owner },
              'disconnecting an NBD device left by an earlier run',
            );
            await release(device, undefined);
          }
        } catch (err) {
          // one stuck slot must not keep the others (or the daemon) from starting; its Mount will say EBUSY
          log.error({ slot: slot.name, err: (err as Error).message }, 'cannot clean up what an earlier run left');
        }
      }
    },

    async close() {
      await monitor?.close();
    },
  };
}
