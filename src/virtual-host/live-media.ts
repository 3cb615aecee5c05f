// Puts the slots' media into the running VM and takes them out again, over QMP, so the VM's
// drives follow the slots. A CD drive always exists: its medium is opened from the export
// socket (an NBD block node) and inserted into the drive. A USB stick cannot be empty, so it is
// plugged in with its medium and unplugged on eject. Changes are applied one at a time, in order.
import type { Logger } from '../log.js';
import type { BootPlan } from './boot-plan.js';
import type { MediaSnapshot } from './media-watch.js';
import { deviceId, USB_BUS } from './qemu-command.js';
import type { QmpClient } from './qmp-client.js';
import type { HostSlot } from './slots.js';

/** How long an unplugged USB stick may take to go (the guest may have to let go first). */
const UNPLUG_TIMEOUT_MS = 10_000;

interface Inserted {
  /** The export socket's identity (media-watch.ts) this medium was opened from. */
  identity: string;
  node: string;
}

export class LiveMedia {
  private readonly inserted = new Map<string, Inserted>();
  /** A socket that could not be opened is not tried again until it is replaced or goes. */
  private readonly failed = new Map<string, string>();
  private chain = Promise.resolve();
  private nodes = 0;

  constructor(
    private readonly qmp: QmpClient,
    private readonly slots: readonly HostSlot[],
    private readonly plan: BootPlan,
    private readonly log: Logger,
  ) {}

  /** Makes the drives hold what `desired` says; resolves when done (failures are logged, never thrown). */
  reconcile(desired: MediaSnapshot): Promise<void> {
    this.chain = this.chain
      .then(() => this.apply(desired))
      .catch((err: Error) => this.log.error({ err: err.message }, 'cannot follow the media'));
    return this.chain;
  }

  private async apply(desired: MediaSnapshot): Promise<void> {
    for (const slot of this.slots) {
      const wanted = desired.get(slot.name);
      if (wanted === undefined) this.failed.delete(slot.name);
      const held = this.inserted.get(slot.name);
      if (held && held.identity !== wanted) {
        try {
          await (slot.media === 'CD' ? this.ejectCd(slot, held.node) : this.unplugUsb(slot, held.node));
          this.log.info({ slot: slot.name }, 'medium ejected');
        } catch (err) {
          this.log.warn({ slot: slot.name, err: (err as Error).message }, 'cannot eject the medium');
          continue;
        }
        this.inserted.delete(slot.name);
      }
      if (wanted === undefined || this.inserted.has(slot.name) || this.failed.get(slot.name) === wanted) continue;
      const node = `medium-${slot.name}-${++this.nodes}`;
      try {
        await (slot.media === 'CD' ? this.insertCd(slot, node) : this.plugUsb(slot, node));
        this.inserted.set(slot.name, { identity: wanted, node });
        this.log.info({ slot: slot.name, socket: slot.exportSocket }, 'medium inserted');
      } catch (err) {
        this.failed.set(slot.name, wanted);
        this.log.warn({ slot: slot.name, err: (err as Error).message }, 'cannot insert the medium');
      }
    }
  }

  /** Opens the slot's export as a block node; writable when the server allows it (a CD never is). */
  private async openExport(slot: HostSlot, node: string): Promise<void> {
    const readOnly = slot.media === 'CD';
    await this.qmp.execute('blockdev-add', {
      driver: 'nbd',
      'node-name': node,
      server: { type: 'unix', path: slot.exportSocket },
      'read-only': readOnly,
      ...(readOnly ? {} : { 'auto-read-only': true }),
    });
  }

  private async insertCd(slot: HostSlot, node: string): Promise<void> {
    const id = deviceId(slot);
    await this.openExport(slot, node);
    try {
      // force: the guest may have locked the tray (a mounted CD); a real drive's eject button wins too
      await this.qmp.execute('blockdev-open-tray', { id, force: true });
      await this.qmp.execute('blockdev-insert-medium', { id, 'node-name': node });
      await this.qmp.execute('blockdev-close-tray', { id });
    } catch (err) {
      await this.qmp.execute('blockdev-del', { 'node-name': node }).catch(() => undefined);
      throw err;
    }
  }

  private async ejectCd(slot: HostSlot, node: string): Promise<void> {
    const id = deviceId(slot);
    await this.qmp.execute('blockdev-open-tray', { id, force: true });
    await this.qmp.execute('blockdev-remove-medium', { id });
    await this.qmp.execute('blockdev-del', { 'node-name': node });
    // an empty drive with its tray closed: the guest sees "no medium", as after a real eject and reload
    await this.qmp.execute('blockdev-close-tray', { id });
  }

  private async plugUsb(slot: HostSlot, node: string): Promise<void> {
    await this.openExport(slot, node);
    try {
      await this.qmp.execute('device_add', {
        driver: 'usb-storage',
        bus: USB_BUS,
        id: deviceId(slot),
        drive: node,
        removable: true,
        bootindex: this.plan.bootIndex.get(slot.name),
      });
    } catch (err) {
      await this.qmp.execute('blockdev-del', { 'node-name': node }).catch(() => undefined);
      throw err;
    }
  }

  private async unplugUsb(slot: HostSlot, node: string): Promise<void> {
    const id = deviceId(slot);
    const deleted = this.qmp.waitForEvent(
      (e) => e.event === 'DEVICE_DELETED' && e.data.device === id,
      UNPLUG_TIMEOUT_MS,
    );
    try {
      await this.qmp.execute('device_del', { id });
      await deleted.event;
    } finally {
      deleted.cancel();
    }
    await this.qmp.execute('blockdev-del', { 'node-name': node });
  }
}
