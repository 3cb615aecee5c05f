// Attach and detach images on BMCs, one operation at a time per BMC, with retries and backoff.
// Every state is written to the database before the BMC is driven, so after a crash the database
// says what was under way: start() resumes attaching and detaching operations and checks each
// attached one against its BMC's VirtualMedia (re-inserting when the BMC lost it). Windows
// (scheduled attachments) are opened and closed by the scheduler through openWindow/closeWindow.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../log.js';
import type { ComputerSystemDriver } from '../bmc-driver/computer-system.js';
import type { VirtualMediaDriver, VirtualMediaSlot } from '../bmc-driver/virtual-media.js';
import type { GatewayStore } from '../db/store.js';
import { badRequest, conflict, GatewayError, notFound } from '../errors.js';
import type { ImageMetadata, ImageRepository } from '../repository/image-repository.js';
import type { GeneratedImages } from '../generated/generated-images.js';
import type { AttachmentWindow } from '../scheduler/window.js';
import { DEVICE_TYPES, LIVE_STATES, type AttachmentRecord, type BmcRecord, type DeviceType } from '../types.js';
import { mediaUrl, newMediaAccess, urlHasToken } from './access.js';
import { KeyedQueue } from './keyed-queue.js';
import { OperationDurations, type DurationHistogram } from './operation-durations.js';

export interface AttachmentManagerOptions {
  store: GatewayStore;
  repository: ImageRepository;
  driverFor(bmc: BmcRecord): VirtualMediaDriver;
  systemFor(bmc: BmcRecord): ComputerSystemDriver;
  generated: GeneratedImages;
  /** https://host:port the BMCs reach the media server at. */
  mediaBaseUrl: string;
  /** How long a media URL works unless renewed; attached ones are renewed every third of it. */
  linkTtlMs: number;
  renewEveryMs: number;
  /** Attempts of a whole attach or detach before it fails, the first retry after backoffMs. */
  attempts: number;
  backoffMs: number;
  log: Logger;
}

/** The image of an attachment: one of the repository (id or name), or a document to build. */
export type ImageChoice = string | { generated: unknown };

export interface AttachExtras {
  /** Made at the start (now when it has passed), removed at the end. */
  window?: AttachmentWindow;
  /** A one-time boot override to the device and a reset once inserted. */
  boot?: boolean;
}

const overlaps = (a: AttachmentWindow, b: AttachmentRecord) =>
  b.windowStart !== null && b.windowEnd !== null && a.start < b.windowEnd && b.windowStart < a.end;

/** Who acts when the gateway itself resumes or renews. */
const GATEWAY = 'gateway';

export class AttachmentManager {
  private readonly queue = new KeyedQueue();
  private renewTimer: NodeJS.Timeout | undefined;
  private readonly durations = new OperationDurations();

  constructor(private readonly o: AttachmentManagerOptions) {}

  /** `visible`: the images the caller may attach (per-image ACLs); the others do not exist for it. */
  async attach(
    bmcName: string,
    device: string,
    imageRef: ImageChoice,
    who: string,
    visible?: (image: ImageMetadata) => boolean,
    extras: AttachExtras = {},
  ): Promise<AttachmentRecord> {
    if (!DEVICE_TYPES.includes(device as DeviceType)) throw badRequest(`device: one of ${DEVICE_TYPES.join(', ')}`);
    if (!(await this.o.store.getBmc(bmcName))) throw notFound(`BMC ${bmcName}`);
    const { window, boot } = extras;
    if (window) await this.refuseOverlap(bmcName, device as DeviceType, window);
    const { image, nonce } =
      typeof imageRef === 'string'
        ? { image: this.o.repository.get(imageRef, visible), nonce: undefined }
        : await this.o.generated.build(imageRef.generated, device as DeviceType, who);
    if (image.state === 'failed')
      throw conflict(`image ${image.id} failed its digest check and is never served: ${image.error ?? ''}`);
    const scheduled = window !== undefined && window.start > Date.now();
    const created = await this.o.store.createAttachment({
      id: randomUUID(),
      bmc: bmcName,
      device: device as DeviceType,
      imageId: image.id,
      createdBy: who,
      ...(window ? { windowStart: window.start, windowEnd: window.end, scheduled } : {}),
      ...(boot ? { boot } : {}),
      ...(nonce ? { generatedNonce: nonce } : {}),
    });
    if (!created) throw conflict(`BMC ${bmcName} already has an attachment on its ${device} device: detach it first`);
    const what = nonce ? `generated image (nonce ${nonce})` : `image ${image.id} (${image.name})`;
    const when = window
      ? `, window ${new Date(window.start).toISOString()} to ${new Date(window.end).toISOString()}`
      : '';
    await this.o.store.audit(
      who,
      scheduled ? 'schedule' : 'attach',
      `${bmcName}/${device}`,
      `${what}, attachment ${created.id}${when}${boot ? ', boot' : ''}`,
    );
    if (!scheduled) void this.enqueue(bmcName, () => this.performAttach(created.id));
    return created;
  }

  /** Two windows on one BMC's device must not overlap (the second could never be attached). */
  private async refuseOverlap(bmc: string, device: DeviceType, window: AttachmentWindow): Promise<void> {
    const rows = await this.o.store.listAttachments({ bmc, states: ['scheduled', ...LIVE_STATES] });
    const other = rows.find((r) => r.device === device && overlaps(window, r));
    if (other) throw conflict(`the window overlaps attachment ${other.id}'s on BMC ${bmc}'s ${device} device`);
  }

  /** At a window's start: scheduled → attaching and the attach, unless the window is already over
   *  (the gateway was down all along) or the device holds another attachment (then failed). */
  openWindow(id: string): Promise<void> {
    return this.onBmcOf(id, async (row) => {
      const missed = row.windowEnd !== null && row.windowEnd <= Date.now();
      if (!missed) {
        const change = await this.o.store.changeState(id, ['scheduled'], 'attaching');
        if (change === 'changed') {
          await this.o.store.audit(GATEWAY, 'window opened', `${row.bmc}/${row.device}`, `attachment ${id}`);
          return this.performAttach(id);
        }
        // another gateway opened it, or it was cancelled
        if (change === 'unchanged') return;
      }
      if ((await this.o.store.changeState(id, ['scheduled'], 'failed')) !== 'changed') return;
      const error = missed
        ? 'the window had ended before the gateway could start attaching it (it was down, or the BMC busy)'
        : `at the window's start the ${row.device} device of BMC ${row.bmc} held another attachment`;
      await this.o.store.updateAttachment(id, { error, failed: true });
      await this.o.store.audit(GATEWAY, 'window failed', `${row.bmc}/${row.device}`, `attachment ${id}: ${error}`);
    });
  }

  /** At a window's end: attaching/attached → detaching and the detach (one gateway wins the change). */
  closeWindow(id: string): Promise<void> {
    return this.onBmcOf(id, async (row) => {
      if ((await this.o.store.changeState(id, ['attaching', 'attached'], 'detaching')) !== 'changed') return;
      await this.o.store.audit(GATEWAY, 'window closed', `${row.bmc}/${row.device}`, `attachment ${id}`);
      await this.performDetach(id);
    });
  }

  /** Queues `op` on the attachment's BMC with the row as it is once the lock is held. */
  private async onBmcOf(id: string, op: (row: AttachmentRecord) => Promise<void>): Promise<void> {
    const row = await this.o.store.getAttachment(id);
    if (!row) return;
    await this.enqueue(row.bmc, async () => {
      const now = await this.o.store.getAttachment(id);
      if (now) await op(now);
    });
  }

  async detach(id: string, who: string): Promise<AttachmentRecord> {
    const row = await this.o.store.getAttachment(id);
    if (!row) throw notFound(`attachment ${id}`);
    if ((await this.o.store.changeState(id, ['scheduled'], 'detached')) === 'changed') {
      await this.o.store.audit(who, 'cancel', `${row.bmc}/${row.device}`, `attachment ${id} (scheduled)`);
      return (await this.o.store.getAttachment(id))!;
    }
    if (!(await this.o.store.beginDetach(id))) throw conflict(`attachment ${id} is ${row.state}, not attached`);
    await this.o.store.audit(who, 'detach', `${row.bmc}/${row.device}`, `attachment ${id}`);
    void this.enqueue(row.bmc, () => this.performDetach(id));
    return (await this.o.store.getAttachment(id))!;
  }

  /** The attachment once the operations queued for its BMC so far have ended. */
  /** Queues `op` for the BMC, run while holding its lock in the database too. */
  private enqueue(bmc: string, op: () => Promise<void>): Promise<void> {
    return this.queue.run(bmc, () => this.o.store.withBmcLock(bmc, op));
  }

  async settled(id: string): Promise<AttachmentRecord> {
    const row = await this.o.store.getAttachment(id);
    if (!row) throw notFound(`attachment ${id}`);
    await this.queue.run(row.bmc, () => Promise.resolve());
    return (await this.o.store.getAttachment(id))!;
  }

  /** How long the attach and detach operations this process finished took. */
  operationDurations(): DurationHistogram[] {
    return this.durations.snapshot();
  }

  /** Reconciles the database with the BMCs, then renews the media URLs of attached images. */
  async start(): Promise<void> {
    for (const row of await this.o.store.listAttachments({ states: LIVE_STATES })) {
      // a window that ended while the gateway was down is closed by the scheduler, not resumed
      if (row.state !== 'detaching' && row.windowEnd !== null && row.windowEnd <= Date.now()) continue;
      if (row.state === 'attaching') void this.enqueue(row.bmc, () => this.performAttach(row.id));
      else if (row.state === 'detaching') void this.enqueue(row.bmc, () => this.performDetach(row.id));
      else void this.enqueue(row.bmc, () => this.verifyAttached(row.id));
    }
    this.renewTimer = setInterval(() => void this.renew(), this.o.renewEveryMs);
    this.renewTimer.unref();
  }

  /** Stops renewing and waits for the operations under way. */
  async stop(): Promise<void> {
    clearInterval(this.renewTimer);
    await this.queue.idle();
  }

  private async renew(): Promise<void> {
    const expiresAt = Date.now() + this.o.linkTtlMs;
    for (const row of await this.o.store.listAttachments({ states: ['attached'] }))
      await this.o.store.updateAttachment(row.id, { expiresAt });
  }

  private async verifyAttached(id: string): Promise<void> {
    const row = await this.o.store.getAttachment(id);
    if (row?.state !== 'attached') return;
    try {
      const driver = await this.driver(row.bmc);
      const slot = row.slotUri ? await driver.slot(row.slotUri) : undefined;
      if (slot?.inserted && slot.image !== null && urlHasToken(slot.image, row.tokenHash)) {
        await this.o.store.updateAttachment(id, { expiresAt: Date.now() + this.o.linkTtlMs });
        // a gateway that stopped between the insert and the boot boots now
        await this.bootIfRequested(id);
        return;
      }
    } catch (err) {
      this.o.log.warn({ attachment: id, err: (err as Error).message }, 'cannot read the BMC; inserting again');
    }
    await this.o.store.updateAttachment(id, { state: 'attaching' });
    await this.o.store.audit(GATEWAY, 'reattach', `${row.bmc}/${row.device}`, `attachment ${id}: the BMC lost it`);
    await this.performAttach(id);
  }

  private async performAttach(id: string): Promise<void> {
    await this.withRetries(id, 'attaching', async (row) => {
      const image = (row.generatedNonce === null ? this.o.repository : this.o.generated.repository).get(row.imageId);
      const driver = await this.driver(row.bmc);
      const previousToken = row.tokenHash;
      const access = newMediaAccess(id);
      // written before InsertMedia: the BMC reads the URL while the action runs
      await this.o.store.updateAttachment(id, {
        tokenHash: access.tokenHash,
        passwordHash: access.passwordHash,
        expiresAt: Date.now() + this.o.linkTtlMs,
      });
      const slotUri = await driver.insert({
        device: row.device,
        url: mediaUrl(this.o.mediaBaseUrl, access.token, image.name),
        username: access.username,
        password: access.password,
        isOurs: (image) => urlHasToken(image, previousToken),
      });
      // an InsertMedia of an earlier run (killed mid-attach) may still complete at the BMC after
      // ours: only the BMC showing this run's URL counts as attached
      const shown = await driver.slot(slotUri);
      if (!shown.inserted || shown.image === null || !urlHasToken(shown.image, access.tokenHash))
        throw new GatewayError(
          502,
          'BmcRefused',
          `after InsertMedia, ${slotUri} does not show this attachment's image`,
        );
      // the slot first (a detach needs it), then the state only from attaching: a detach asked
      // for meanwhile has moved it to detaching and its queued eject must not be skipped
      await this.o.store.updateAttachment(id, { slotUri, error: null });
      if ((await this.o.store.changeState(id, ['attaching'], 'attached')) === 'changed')
        await this.o.store.audit(GATEWAY, 'attached', `${row.bmc}/${row.device}`, `attachment ${id} in ${slotUri}`);
    });
    await this.bootIfRequested(id);
  }

  /** Once attached: the boot override and reset, once. A refusal leaves the media attached, with the error. */
  private async bootIfRequested(id: string): Promise<void> {
    const row = await this.o.store.getAttachment(id);
    if (row?.state !== 'attached' || row.boot !== 'requested') return;
    const target = `${row.bmc}/${row.device}`;
    try {
      const bmc = await this.o.store.getBmc(row.bmc);
      if (!bmc) throw notFound(`BMC ${row.bmc}`);
      const { system, resetType } = await this.o.systemFor(bmc).bootOnce(row.device);
      await this.o.store.updateAttachment(id, { boot: 'done' });
      await this.o.store.audit(
        GATEWAY,
        'boot',
        target,
        `attachment ${id}: boot once from it, ${resetType} of ${system}`,
      );
    } catch (err) {
      const error = `the media is attached but the boot failed: ${(err as Error).message}`;
      this.o.log.warn({ attachment: id, bmc: row.bmc, err: error }, 'boot failed');
      await this.o.store.updateAttachment(id, { boot: 'failed', error, failed: true });
      await this.o.store.audit(GATEWAY, 'boot failed', target, `attachment ${id}: ${error}`);
    }
  }

  private async performDetach(id: string): Promise<void> {
    await this.withRetries(id, 'detaching', async (row) => {
      const driver = await this.driver(row.bmc);
      const ours = (s: VirtualMediaSlot) => s.image !== null && urlHasToken(s.image, row.tokenHash);
      // only our own image is ejected: the slot may hold someone else's by now
      const known = row.slotUri ? await driver.slot(row.slotUri) : undefined;
      const slot = known && ours(known) ? known : (await driver.slots()).find(ours);
      if (slot) await driver.eject(slot);
      await this.o.store.updateAttachment(id, { state: 'detached', expiresAt: null, error: null });
      await this.o.store.audit(GATEWAY, 'detached', `${row.bmc}/${row.device}`, `attachment ${id}`);
    });
  }

  /** Runs `op` while the attachment is still in `state`; after the last failed attempt it is failed. */
  private async withRetries(
    id: string,
    state: 'attaching' | 'detaching',
    op: (row: AttachmentRecord) => Promise<void>,
  ): Promise<void> {
    let delay = this.o.backoffMs;
    const started = performance.now();
    const operation = state === 'attaching' ? 'attach' : 'detach';
    const count = (outcome: 'ok' | 'failed') =>
      this.durations.observe(operation, outcome, (performance.now() - started) / 1000);
    for (let attempt = 1; ; attempt++) {
      const row = await this.o.store.getAttachment(id);
      if (row?.state !== state) return;
      try {
        await op(row);
        count('ok');
        return;
      } catch (err) {
        const message = (err as Error).message;
        this.o.log.warn({ attachment: id, bmc: row.bmc, attempt, err: message }, `${state} failed`);
        if (attempt >= this.o.attempts) {
          count('failed');
          await this.o.store.updateAttachment(id, { state: 'failed', error: message, expiresAt: null, failed: true });
          await this.o.store.audit(GATEWAY, `${operation} failed`, `${row.bmc}/${row.device}`, message);
          return;
        }
        await this.o.store.updateAttachment(id, { error: message, failed: true });
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay *= 2;
      }
    }
  }

  private async driver(bmcName: string): Promise<VirtualMediaDriver> {
    const bmc = await this.o.store.getBmc(bmcName);
    if (!bmc) throw notFound(`BMC ${bmcName}`);
    return this.o.driverFor(bmc);
  }
}
