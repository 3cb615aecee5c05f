// One slot on the page: its state as Redfish reports it, the controls of its mode, and Eject.
// Cards are updated in place on refresh so a half-filled form or a running session survives.
import type { Api } from './api.js';
import { el } from './dom.js';
import { GeneratedMediaPanel } from './generated-media-panel.js';
import { LegacyPanel } from './legacy-panel.js';
import { Notice } from './notice.js';
import { ProxyPanel } from './proxy-panel.js';
import type { Slot } from './slots.js';

export class SlotCard {
  readonly root: HTMLElement;
  private readonly status = el('span', { class: 'status' });
  private readonly image = el('dd', { class: 'image' });
  private readonly writeProtected = el('dd', { class: 'write-protected' });
  private readonly ejectButton = el('button', { type: 'button', class: 'danger' }, 'Eject');
  private readonly notice = new Notice();
  private readonly panel: ProxyPanel | LegacyPanel;
  /** Legacy slots: media the BMC builds from a JSON document. */
  private readonly generated?: GeneratedMediaPanel;
  private slot: Slot;

  constructor(
    slot: Slot,
    private readonly api: Api,
    private readonly refresh: () => void,
  ) {
    this.slot = slot;
    const titleId = `slot-${slot.id}`;
    const host = { api, notice: this.notice, refresh };
    this.panel = slot.mode === 'Proxy' ? new ProxyPanel(slot, host) : new LegacyPanel(slot, host);
    if (slot.mode === 'Legacy') this.generated = new GeneratedMediaPanel(slot, host);
    const mode = slot.mode === 'Proxy' ? 'Proxy: served from this browser' : 'Legacy: the BMC fetches a URL';
    this.root = el(
      'section',
      { class: 'slot', 'aria-labelledby': titleId, 'data-slot': slot.id },
      el(
        'header',
        {},
        el('h2', { id: titleId }, slot.id),
        el('span', { class: `mode mode-${slot.mode.toLowerCase()}` }, mode),
        this.status,
      ),
      el(
        'dl',
        { class: 'facts' },
        el('dt', {}, 'Image'),
        this.image,
        el('dt', {}, 'Write protected'),
        this.writeProtected,
      ),
      this.panel.root,
      this.generated?.root,
      this.ejectButton,
      this.notice.root,
    );
    this.ejectButton.addEventListener('click', () => void this.eject());
    this.update(slot);
  }

  /** Stops a file this page serves to the slot (logout, leaving the page). */
  stop(): void {
    if (this.panel instanceof ProxyPanel) this.panel.stop();
  }

  get serving(): boolean {
    return this.panel instanceof ProxyPanel && this.panel.active;
  }

  update(slot: Slot): void {
    this.slot = slot;
    this.panel.update(slot);
    this.generated?.update(slot);
    const local = this.panel instanceof ProxyPanel ? this.panel.localFileName : undefined;
    this.status.textContent = slot.inserted ? 'Inserted' : 'Not inserted';
    this.status.className = `status ${slot.inserted ? 'status-inserted' : 'status-empty'}`;
    const generated = slot.generatedMedia;
    this.image.textContent = local
      ? `${local} (from this browser)`
      : generated
        ? `generated ${generated.format} "${generated.label}", nonce ${generated.nonce}`
        : (slot.image ?? (slot.inserted ? 'served by another client' : 'none'));
    // what the BMC reports: it decides what the host may do, whatever this page would allow
    this.writeProtected.textContent = slot.writeProtected ? 'yes' : 'no';
    // a file served from this page is stopped with Stop; Eject is for media inserted otherwise
    this.ejectButton.hidden = !slot.inserted || this.serving || !slot.ejectTarget;
  }

  private async eject(): Promise<void> {
    const target = this.slot.ejectTarget;
    if (!target) return;
    this.ejectButton.disabled = true;
    try {
      await this.api.post(target, {});
      this.notice.show('success', 'Ejected.');
    } catch (err) {
      this.notice.showError(err, 'Eject failed');
    } finally {
      this.ejectButton.disabled = false;
      this.refresh();
    }
  }
}
