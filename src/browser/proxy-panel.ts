// A Proxy slot's controls: pick a local file and serve it to the BMC from this page (the BMC
// reads it over the WebSocket bridge as an NBD disk), with live figures and a Stop button.
import type { Api } from './api.js';
import { el, uniqueId } from './dom.js';
import { formatBytes, formatRate } from './format.js';
import type { Notice, NoticeKind } from './notice.js';
import { ProxySession, type SessionFigures } from './proxy-session.js';
import type { Slot } from './slots.js';
import type { EndedMessage } from './worker-protocol.js';

const NORMAL_CLOSURE = 1000;

/** Why the connection ended, in words, including the bridge's close reason (e.g. slot busy). */
export function describeEnd(end: EndedMessage, endpoint: string): { kind: NoticeKind; text: string } {
  const served = `${formatBytes(end.bytesRead)} served`;
  const reason = end.reason ? `: ${end.reason}` : '';
  if (end.error) return { kind: 'error', text: `Stopped on an error: ${end.error} (${served}).` };
  if (end.stopped) {
    return {
      kind: 'success',
      text: end.opened ? `Stopped; the media was ejected (${served}).` : 'Stopped before the BMC answered.',
    };
  }
  if (!end.opened) {
    const why = end.reason || 'not logged in, not allowed, or the BMC is unreachable';
    return { kind: 'error', text: `The BMC refused the connection to ${endpoint}: ${why}.` };
  }
  if (end.code === NORMAL_CLOSURE) return { kind: 'info', text: `The BMC ejected the media${reason} (${served}).` };
  if (end.bytesRead === 0 && end.bytesWritten === 0) {
    // accepted, then closed before any use: the bridge's refusal (slot busy, mount failed)
    return { kind: 'error', text: `The BMC refused ${endpoint}${reason} (code ${end.code}).` };
  }
  return { kind: 'error', text: `The BMC closed the connection (code ${end.code}${reason}); ${served}.` };
}

type Phase = 'connecting' | 'mounting' | 'mounted' | 'stopping' | 'ended';
const PHASE_TEXT: Record<Phase, string> = {
  connecting: 'Connecting to the BMC…',
  mounting: 'Connected: the BMC is mounting the image…',
  mounted: 'Mounted: the host can use the image.',
  stopping: 'Stopping…',
  ended: '',
};
const MOUNT_POLL_MS = 500;

export interface ProxyPanelHost {
  api: Api;
  notice: Notice;
  /** Re-read the slots from Redfish (after every change). */
  refresh(): void;
}

export class ProxyPanel {
  readonly root = el('div', { class: 'panel' });
  private readonly fileInput: HTMLInputElement;
  private readonly mountButton = el('button', { type: 'submit', class: 'primary', disabled: true }, 'Mount');
  private readonly form: HTMLFormElement;
  private readonly serving = el('div', { class: 'serving', hidden: true });
  private readonly servingFile = el('p', { class: 'serving-file' });
  private readonly state = el('p', { class: 'serving-state', role: 'status' });
  private readonly served = el('dd', { class: 'bytes-served' }, '0 B');
  private readonly rate = el('dd', { class: 'throughput' }, formatRate(0));
  private readonly fileErrorsTerm = el('dt', { hidden: true }, 'Read errors');
  private readonly fileErrors = el('dd', { class: 'file-errors', hidden: true });
  private readonly stopButton = el('button', { type: 'button', class: 'danger' }, 'Stop');
  private session: ProxySession | undefined;
  private phase: Phase = 'connecting';
  /** While the BMC mounts: re-read the slot often, to say "mounted" as soon as it is. */
  private mountPoll: ReturnType<typeof setInterval> | undefined;
  private slot: Slot;

  constructor(
    slot: Slot,
    private readonly host: ProxyPanelHost,
  ) {
    this.slot = slot;
    const fileId = uniqueId('file');
    const hintId = uniqueId('hint');
    this.fileInput = el('input', { id: fileId, type: 'file', class: 'file', 'aria-describedby': hintId });
    this.form = el(
      'form',
      { class: 'proxy-form' },
      el('label', { for: fileId }, 'Image file on this computer'),
      this.fileInput,
      el('p', { id: hintId, class: 'hint' }, 'The host sees it read-only; your file is never changed.'),
      this.mountButton,
    );
    this.serving.append(
      this.servingFile,
      this.state,
      el(
        'dl',
        { class: 'figures' },
        el('dt', {}, 'Served'),
        this.served,
        el('dt', {}, 'Throughput'),
        this.rate,
        this.fileErrorsTerm,
        this.fileErrors,
      ),
      this.stopButton,
    );
    this.root.append(this.form, this.serving);

    this.fileInput.addEventListener('change', () => {
      this.mountButton.disabled = !this.fileInput.files?.length;
    });
    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.start();
    });
    this.stopButton.addEventListener('click', () => {
      this.stopButton.disabled = true;
      this.setPhase('stopping');
      this.session?.stop();
    });
    this.update(slot);
  }

  /** True while this page serves a file to the slot. */
  get active(): boolean {
    return this.session?.running ?? false;
  }

  /** The file this page serves to the slot, to show as the slot's image. */
  get localFileName(): string | undefined {
    return this.active ? this.session?.file.name : undefined;
  }

  stop(): void {
    this.session?.stop();
  }

  update(slot: Slot): void {
    this.slot = slot;
    this.form.hidden = this.active || slot.inserted;
    this.serving.hidden = !this.active;
    if (this.active && this.phase === 'mounting' && slot.inserted) this.setPhase('mounted');
  }

  private setPhase(phase: Phase): void {
    this.phase = phase;
    this.state.textContent = PHASE_TEXT[phase];
    if (phase === 'mounting') this.mountPoll ??= setInterval(() => this.host.refresh(), MOUNT_POLL_MS);
    else {
      clearInterval(this.mountPoll);
      this.mountPoll = undefined;
    }
  }

  private start(): void {
    const file = this.fileInput.files?.[0];
    const endpoint = this.slot.webSocketEndpoint;
    if (!file || !endpoint || this.active) return;
    const { notice } = this.host;
    notice.clear();
    this.servingFile.textContent = `${file.name} (${formatBytes(file.size)}, read-only)`;
    this.setPhase('connecting');
    this.stopButton.disabled = false;
    this.showFigures({ bytesRead: 0, bytesWritten: 0, fileErrors: 0, rate: 0 });
    this.session = new ProxySession(file, endpoint, this.host.api.xsrfToken, {
      opened: () => this.setPhase('mounting'),
      figures: (f) => this.showFigures(f),
      ended: (end) => {
        this.setPhase('ended');
        const { kind, text } = describeEnd(end, endpoint);
        notice.show(kind, text);
        this.update(this.slot);
        this.host.refresh();
      },
    });
    this.update(this.slot);
  }

  private showFigures(f: SessionFigures): void {
    const written = f.bytesWritten > 0 ? ` read, ${formatBytes(f.bytesWritten)} written` : '';
    this.served.textContent = `${formatBytes(f.bytesRead)}${written}`;
    this.rate.textContent = formatRate(f.rate);
    // the BMC got EIO for these: the file changed or became unreadable since it was picked
    this.fileErrorsTerm.hidden = this.fileErrors.hidden = f.fileErrors === 0;
    this.fileErrors.textContent = f.fileErrors > 0 ? `${f.fileErrors} (last: ${f.lastFileError ?? 'unknown'})` : '';
  }
}
