// A Legacy slot's form: the BMC fetches the image itself from a URL (HTTP(S), CIFS, NFS) after
// InsertMedia. The password travels only in that request's JSON body and leaves the field at once.
import type { Api } from './api.js';
import { el, uniqueId } from './dom.js';
import type { Notice } from './notice.js';
import type { Slot } from './slots.js';

export interface LegacyPanelHost {
  api: Api;
  notice: Notice;
  refresh(): void;
}

/** The InsertMedia body (DMTF VirtualMedia.InsertMedia parameters). */
export interface InsertMediaBody {
  Image: string;
  Inserted: true;
  WriteProtected: boolean;
  TransferProtocolType?: string;
  UserName?: string;
  Password?: string;
}

function labelled(label: string, control: HTMLElement & { id: string }): HTMLElement[] {
  return [el('label', { for: control.id }, label), control];
}

export class LegacyPanel {
  readonly root = el('div', { class: 'panel' });
  private readonly form: HTMLFormElement;
  // text, not url: a bare host/path is valid when a protocol is chosen
  private readonly image = el('input', {
    id: uniqueId('image'),
    type: 'text',
    inputmode: 'url',
    required: true,
    placeholder: 'https://server/path/image.iso',
    autocomplete: 'url',
    spellcheck: 'false',
  });
  private readonly protocol = el('select', { id: uniqueId('protocol') });
  private readonly user = el('input', {
    id: uniqueId('user'),
    autocomplete: 'off',
    autocapitalize: 'none',
    spellcheck: 'false',
  });
  private readonly password = el('input', { id: uniqueId('password'), type: 'password', autocomplete: 'new-password' });
  private readonly writeProtected = el('input', { id: uniqueId('wp'), type: 'checkbox', checked: true });
  private readonly insertButton = el('button', { type: 'submit', class: 'primary' }, 'Insert');
  private knownProtocols = '';
  private slot!: Slot; // set by update(), which the constructor calls

  constructor(
    slot: Slot,
    private readonly host: LegacyPanelHost,
  ) {
    this.form = el(
      'form',
      { class: 'legacy-form' },
      ...labelled('Image URL', this.image),
      ...labelled('Protocol', this.protocol),
      ...labelled('User name (optional)', this.user),
      ...labelled('Password (optional)', this.password),
      el(
        'div',
        { class: 'check' },
        this.writeProtected,
        el('label', { for: this.writeProtected.id }, 'Write protected'),
      ),
      this.insertButton,
    );
    this.root.append(this.form);
    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.insert();
    });
    this.update(slot);
  }

  update(slot: Slot): void {
    this.slot = slot;
    this.form.hidden = slot.inserted;
    const protocols = slot.protocols.join(',');
    if (protocols !== this.knownProtocols) {
      this.knownProtocols = protocols;
      this.protocol.replaceChildren(
        el('option', { value: '' }, 'From the URL'),
        ...slot.protocols.map((p) => el('option', { value: p }, p)),
      );
    }
  }

  private body(password: string): InsertMediaBody {
    const body: InsertMediaBody = {
      Image: this.image.value.trim(),
      Inserted: true,
      WriteProtected: this.writeProtected.checked,
    };
    if (this.protocol.value) body.TransferProtocolType = this.protocol.value;
    if (this.user.value) body.UserName = this.user.value;
    if (password) body.Password = password;
    return body;
  }

  private async insert(): Promise<void> {
    const target = this.slot.insertTarget;
    if (!target) return;
    const password = this.password.value;
    this.password.value = '';
    const { notice, api } = this.host;
    this.insertButton.disabled = true;
    notice.show('info', 'Inserting: the BMC is connecting to the image server…');
    try {
      await api.post(target, this.body(password));
      notice.show('success', `Inserted ${this.image.value.trim()}.`);
    } catch (err) {
      notice.showError(err, 'Insert failed');
    } finally {
      this.insertButton.disabled = false;
      this.host.refresh();
    }
  }
}
