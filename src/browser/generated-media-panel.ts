// A Legacy slot's second way in: media the BMC builds from a JSON document (config drive,
// NoCloud, Ironic floppy) through our OEM action InsertGeneratedMedia. Upload a document, or
// fill the common case (host name, SSH key, CA certificate, DHCP or a static address). The
// formats offered are the action's (its ActionInfo): a CD slot gets an ISO, a stick FAT.
import type { Api } from './api.js';
import { el, uniqueId } from './dom.js';
import { commonCaseDocument } from './generated-media-doc.js';
import type { Notice } from './notice.js';
import type { Slot } from './slots.js';

export interface GeneratedMediaPanelHost {
  api: Api;
  notice: Notice;
  refresh(): void;
}

/** The largest document the BMC takes. */
const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;

function labelled(label: string, control: HTMLElement & { id: string }): HTMLElement[] {
  return [el('label', { for: control.id }, label), control];
}

interface ActionInfo {
  Parameters?: { Name?: unknown; AllowableValues?: unknown }[];
}

export class GeneratedMediaPanel {
  readonly root = el('details', { class: 'generated-media' }, el('summary', {}, 'Generated first-boot media'));
  private readonly form: HTMLFormElement;
  private readonly format = el('select', { id: uniqueId('format') });
  private readonly file = el('input', { id: uniqueId('document'), type: 'file', accept: '.json,application/json' });
  private readonly hostname = el('input', {
    id: uniqueId('hostname'),
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'node-1.example.net',
  });
  private readonly sshKey = el('textarea', { id: uniqueId('ssh-key'), rows: 2, spellcheck: 'false' });
  private readonly ca = el('textarea', {
    id: uniqueId('ca'),
    rows: 3,
    spellcheck: 'false',
    placeholder: '-----BEGIN CERTIFICATE-----',
  });
  private readonly dhcp = el('input', { id: uniqueId('dhcp'), type: 'radio', name: uniqueId('net'), checked: true });
  private readonly staticIp = el('input', { id: uniqueId('static'), type: 'radio', name: this.dhcp.name });
  private readonly address = el('input', {
    id: uniqueId('address'),
    placeholder: '192.0.2.10/24',
    spellcheck: 'false',
  });
  private readonly gateway = el('input', { id: uniqueId('gateway'), placeholder: '192.0.2.1', spellcheck: 'false' });
  private readonly dns = el('input', { id: uniqueId('dns'), placeholder: '192.0.2.53', spellcheck: 'false' });
  private readonly mac = el('input', { id: uniqueId('mac'), placeholder: '52:54:00:12:34:56', spellcheck: 'false' });
  private readonly staticFields: HTMLElement;
  private readonly attachButton = el('button', { type: 'submit', class: 'primary' }, 'Build and attach');
  private formatsFrom = '';
  private slot!: Slot; // set by update(), which the constructor calls

  constructor(
    slot: Slot,
    private readonly host: GeneratedMediaPanelHost,
  ) {
    this.staticFields = el(
      'div',
      { class: 'static-ip', hidden: true },
      ...labelled('Address/prefix', this.address),
      ...labelled('Gateway (optional)', this.gateway),
      ...labelled('DNS server (optional)', this.dns),
      ...labelled('NIC MAC address (config-2: required)', this.mac),
    );
    this.form = el(
      'form',
      { class: 'generated-form' },
      ...labelled('Format', this.format),
      ...labelled('JSON document (optional: replaces the fields below)', this.file),
      ...labelled('Host name', this.hostname),
      ...labelled('SSH public key', this.sshKey),
      ...labelled('CA certificate to trust (PEM)', this.ca),
      el(
        'fieldset',
        {},
        el('legend', {}, 'Network'),
        el('div', { class: 'check' }, this.dhcp, el('label', { for: this.dhcp.id }, 'DHCP')),
        el('div', { class: 'check' }, this.staticIp, el('label', { for: this.staticIp.id }, 'Static IPv4')),
        this.staticFields,
      ),
      this.attachButton,
    );
    this.root.append(this.form);
    for (const radio of [this.dhcp, this.staticIp]) {
      radio.addEventListener('change', () => (this.staticFields.hidden = !this.staticIp.checked));
    }
    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.attach();
    });
    this.update(slot);
  }

  update(slot: Slot): void {
    this.slot = slot;
    this.root.hidden = slot.inserted || !slot.generatedTarget;
    if (slot.generatedActionInfo && slot.generatedActionInfo !== this.formatsFrom) {
      this.formatsFrom = slot.generatedActionInfo;
      void this.loadFormats(slot.generatedActionInfo);
    }
  }

  private async loadFormats(actionInfo: string): Promise<void> {
    try {
      const info = (await this.host.api.get(actionInfo)) as ActionInfo | undefined;
      const allowed = info?.Parameters?.find((p) => p.Name === 'format')?.AllowableValues;
      const formats = Array.isArray(allowed) ? allowed.filter((f): f is string => typeof f === 'string') : [];
      this.format.replaceChildren(...formats.map((f) => el('option', { value: f }, f)));
    } catch (err) {
      this.formatsFrom = '';
      this.host.notice.showError(err, 'Reading the generated media formats failed');
    }
  }

  private async document(): Promise<Record<string, unknown>> {
    const picked = this.file.files?.[0];
    if (picked) {
      if (picked.size > MAX_DOCUMENT_BYTES) throw new Error(`${picked.name} is larger than 8 MiB.`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(await picked.text());
      } catch {
        throw new Error(`${picked.name} is not JSON.`);
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error(`${picked.name} must hold a JSON object.`);
      // the format chosen here wins: it is the one this slot can take
      return { ...(parsed as Record<string, unknown>), format: this.format.value };
    }
    return commonCaseDocument(
      {
        format: this.format.value,
        hostname: this.hostname.value,
        sshKey: this.sshKey.value,
        caCertificate: this.ca.value,
        ...(this.staticIp.checked
          ? {
              staticIp: {
                address: this.address.value,
                gateway: this.gateway.value,
                dns: this.dns.value,
                mac: this.mac.value,
              },
            }
          : {}),
      },
      crypto.randomUUID(),
    );
  }

  private async attach(): Promise<void> {
    const target = this.slot.generatedTarget;
    if (!target) return;
    const { notice, api } = this.host;
    let body: Record<string, unknown>;
    try {
      body = await this.document();
    } catch (err) {
      notice.showError(err);
      return;
    }
    this.attachButton.disabled = true;
    notice.show('info', 'Building the image and attaching it…');
    try {
      const member = (await api.post(target, body)) as { Oem?: { Vmedia?: { GeneratedMedia?: { Nonce?: unknown } } } };
      const nonce = member?.Oem?.Vmedia?.GeneratedMedia?.Nonce;
      notice.show('success', `Attached ${String(body.format)} media.`, `Nonce: ${String(nonce)}`);
      this.file.value = '';
    } catch (err) {
      notice.showError(err, 'Attaching the generated media failed');
    } finally {
      this.attachButton.disabled = false;
      this.host.refresh();
    }
  }
}
