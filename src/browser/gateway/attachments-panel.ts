// Attachments with their live status: the attach form (image, BMC, device) and every live or
// recently failed attachment, with its error and a Detach button. State changes are announced
// politely to screen readers; a focused Detach button keeps the focus across refreshes.
import { el } from '../dom.js';
import { formatBytes } from '../format.js';
import { Notice } from '../notice.js';
import type { AttachmentInfo, AttachRequest, BmcInfo, GatewayApi, ImageInfo } from './gateway-api.js';
import { dataTable, tableRow, when } from './table.js';

/** What the list shows: scheduled and live attachments and failures (a detached one is gone). */
export const SHOWN_STATES = ['scheduled', 'attaching', 'attached', 'detaching', 'failed'] as const;
/** A failure stays listed this long after it happened. */
const FAILED_SHOWN_MS = 24 * 3600 * 1000;
const DEVICES = [
  { value: 'cd', label: 'CD/DVD' },
  { value: 'usb', label: 'USB stick' },
];

function select(id: string): HTMLSelectElement {
  return el('select', { id, required: true });
}

/** A datetime-local value (the reader's time zone) as RFC 3339, as the API takes a window. */
const rfc3339 = (local: string) => new Date(local).toISOString();

/** The state, with the window and the boot when the attachment has them. */
function stateCell(a: AttachmentInfo): HTMLElement {
  const cell = el('span', {}, el('span', { class: `status state-${a.state}` }, a.state));
  if (a.window)
    cell.append(' ', el('span', { class: 'hint' }, 'from ', when(a.window.start), ' until ', when(a.window.end)));
  if (a.boot) cell.append(' ', el('span', { class: 'hint' }, `boot ${a.boot}`));
  return cell;
}

/** Replaces the options, keeping the chosen one when it is still there. */
function setOptions(s: HTMLSelectElement, options: Array<{ value: string; label: string }>, none: string): void {
  const chosen = s.value;
  s.replaceChildren(
    ...(options.length > 0
      ? options.map((o) => el('option', { value: o.value }, o.label))
      : [el('option', { value: '' }, none)]),
  );
  if (options.some((o) => o.value === chosen)) s.value = chosen;
}

export class AttachmentsPanel {
  readonly root: HTMLElement;
  /** Called after an attach or detach was accepted, to show its progress at once. */
  onChange: () => void = () => {};
  private readonly image = select('attach-image');
  private readonly bmc = select('attach-bmc');
  private readonly device = select('attach-device');
  private readonly from = el('input', { id: 'attach-from', type: 'datetime-local' });
  private readonly until = el('input', { id: 'attach-until', type: 'datetime-local' });
  private readonly boot = el('input', { id: 'attach-boot', type: 'checkbox' });
  private readonly submit = el('button', { type: 'submit', class: 'primary' }, 'Attach');
  private readonly notice = new Notice();
  private readonly table = dataTable('Attachments', [
    'BMC',
    'Device',
    'Image',
    'State',
    'Served',
    'Error',
    'Updated',
    '',
  ]);
  private readonly announcer = el('div', { class: 'visually-hidden', 'aria-live': 'polite' });
  private imageNames = new Map<string, string>();
  /** The states of the last refresh; undefined before the first, which announces nothing. */
  private lastStates: Map<string, string> | undefined;

  constructor(private readonly api: GatewayApi) {
    setOptions(this.device, DEVICES, '');
    const form = el(
      'form',
      { class: 'attach', 'aria-labelledby': 'attach-title' },
      el('h3', { id: 'attach-title' }, 'Attach an image'),
      el('label', { for: 'attach-image' }, 'Image'),
      this.image,
      el('label', { for: 'attach-bmc' }, 'BMC'),
      this.bmc,
      el('label', { for: 'attach-device' }, 'Device'),
      this.device,
      el('label', { for: 'attach-from' }, 'From (optional)'),
      this.from,
      el('label', { for: 'attach-until' }, 'Until (optional)'),
      this.until,
      el('p', { class: 'hint' }, 'With Until, the image is attached from From (or now) and detached at Until.'),
      el('div', { class: 'check' }, this.boot, el('label', { for: 'attach-boot' }, 'Boot the server from it')),
      this.submit,
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.attach();
    });
    this.root = el(
      'section',
      { class: 'panel', 'aria-labelledby': 'attachments-title' },
      el('h2', { id: 'attachments-title' }, 'Attachments'),
      form,
      this.notice.root,
      this.table.root,
      this.announcer,
    );
  }

  setChoices(images: ImageInfo[], bmcs: BmcInfo[]): void {
    this.imageNames = new Map(images.map((i) => [i.id, i.name]));
    setOptions(
      this.image,
      images.map((i) => ({ value: i.id, label: i.name })),
      'no images',
    );
    setOptions(
      this.bmc,
      bmcs.map((b) => ({ value: b.name, label: b.name })),
      'no BMCs',
    );
  }

  show(attachments: AttachmentInfo[]): void {
    const recent = Date.now() - FAILED_SHOWN_MS;
    const shown = attachments.filter((a) => a.state !== 'failed' || Date.parse(a.updatedAt) > recent);
    const focused = (document.activeElement as HTMLElement | null)?.dataset.attachment;
    this.announce(shown);
    this.table.show(
      shown.map((a) => {
        const image =
          a.imageId === null ? '(an image not shared with you)' : (this.imageNames.get(a.imageId) ?? a.imageId);
        // a scheduled one is cancelled with the same DELETE
        const action = a.state === 'scheduled' ? 'Cancel' : 'Detach';
        const detach = ['scheduled', 'attaching', 'attached'].includes(a.state)
          ? el(
              'button',
              { type: 'button', 'data-attachment': a.id, 'aria-label': `${action} ${image} on ${a.bmc} ${a.device}` },
              action,
            )
          : '';
        if (detach) detach.addEventListener('click', () => void this.detach(a, image, detach));
        const row = tableRow(
          a.bmc,
          a.device,
          image,
          stateCell(a),
          formatBytes(a.bytesServed),
          a.error ? `${a.error}${a.errorCount > 1 ? ` (${a.errorCount} attempts failed)` : ''}` : '',
          when(a.updatedAt),
          detach,
        );
        row.dataset.attachment = a.id;
        return row;
      }),
      'Nothing attached.',
    );
    if (focused) this.table.root.querySelector<HTMLElement>(`button[data-attachment="${focused}"]`)?.focus();
  }

  /** Says which attachments changed state since the last refresh (not on the first one). */
  private announce(shown: AttachmentInfo[]): void {
    const last = this.lastStates;
    this.lastStates = new Map(shown.map((a) => [a.id, a.state]));
    const changed = shown.filter((a) => last?.get(a.id) !== a.state);
    if (last && changed.length > 0)
      this.announcer.textContent = changed.map((a) => `${a.bmc} ${a.device}: ${a.state}`).join('; ');
  }

  private async attach(): Promise<void> {
    if (!this.image.value || !this.bmc.value) return this.notice.show('error', 'Choose an image and a BMC first.');
    if (this.from.value && !this.until.value) return this.notice.show('error', 'A window needs its Until.');
    const request: AttachRequest = { bmc: this.bmc.value, device: this.device.value, image: this.image.value };
    if (this.until.value)
      request.window = {
        start: this.from.value ? rfc3339(this.from.value) : new Date().toISOString(),
        end: rfc3339(this.until.value),
      };
    if (this.boot.checked) request.boot = true;
    this.submit.disabled = true;
    try {
      await this.api.attach(request);
      this.notice.show('info', `Attach requested on ${this.bmc.value}: its state is in the list below.`);
      this.onChange();
    } catch (err) {
      this.notice.showError(err, 'Could not attach');
    } finally {
      this.submit.disabled = false;
    }
  }

  private async detach(a: AttachmentInfo, image: string, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      await this.api.detach(a.id);
      this.notice.show(
        'info',
        a.state === 'scheduled'
          ? `The scheduled attachment of ${image} on ${a.bmc} is cancelled.`
          : `Detach of ${image} from ${a.bmc} requested.`,
      );
      this.onChange();
    } catch (err) {
      this.notice.showError(err, `Could not detach ${image}`);
      button.disabled = false;
    }
  }
}
