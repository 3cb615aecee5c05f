// The list of slots: read from Redfish on start, after every action and every few seconds (so
// changes made elsewhere, e.g. by a Redfish client or an inactivity eject, show up too).
import type { Api } from './api.js';
import { el } from './dom.js';
import { Notice } from './notice.js';
import { SlotCard } from './slot-card.js';
import { loadSlots } from './slots.js';

const POLL_MS = 5000;

export class SlotsView {
  readonly root: HTMLElement;
  private readonly list = el('div', { class: 'slots' });
  private readonly notice = new Notice();
  private readonly cards = new Map<string, SlotCard>();
  private inFlight: Promise<void> | undefined;
  private again = false;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly api: Api) {
    const refreshButton = el('button', { type: 'button' }, 'Refresh');
    refreshButton.addEventListener('click', () => this.refresh());
    this.root = el(
      'div',
      { class: 'slots-view' },
      el('div', { class: 'toolbar' }, el('h2', { class: 'visually-hidden' }, 'Slots'), refreshButton),
      this.notice.root,
      this.list,
    );
  }

  /** Loads the slots, then keeps them fresh until dispose(). Rejects when the first load fails. */
  async start(): Promise<void> {
    await this.load();
    this.timer = setInterval(() => {
      if (!document.hidden) this.refresh();
    }, POLL_MS);
  }

  dispose(): void {
    clearInterval(this.timer);
  }

  /** Re-reads the slots; calls made while a read is under way coalesce into one more read. */
  refresh(): void {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = this.load()
      .catch((err: unknown) => this.notice.showError(err, 'Could not read the slots'))
      .finally(() => {
        this.inFlight = undefined;
        if (this.again) {
          this.again = false;
          this.refresh();
        }
      });
  }

  get serving(): boolean {
    return [...this.cards.values()].some((c) => c.serving);
  }

  stopAll(): void {
    for (const card of this.cards.values()) card.stop();
  }

  private async load(): Promise<void> {
    const slots = await loadSlots(this.api);
    this.notice.clear();
    const refresh = () => this.refresh();
    for (const slot of slots) {
      const card = this.cards.get(slot.id);
      if (card) card.update(slot);
      else this.cards.set(slot.id, new SlotCard(slot, this.api, refresh));
    }
    const roots = slots.map((s) => this.cards.get(s.id)!.root);
    // re-attaching a card would drop the focus and any click in progress: only when the list changed
    const shown = [...this.list.children];
    if (roots.length !== shown.length || roots.some((r, i) => r !== shown[i])) this.list.replaceChildren(...roots);
    if (slots.length === 0) this.list.replaceChildren(el('p', {}, 'This BMC has no virtual media slots.'));
  }
}
