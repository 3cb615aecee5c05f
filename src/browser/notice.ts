// A message area under a form or a slot: errors are announced at once (role=alert), other
// news politely. One message at a time; the newest replaces the last.
import { el } from './dom.js';
import { ApiError } from './redfish-error.js';

export type NoticeKind = 'error' | 'info' | 'success';

export class Notice {
  readonly root = el('div', { class: 'notice' });

  show(kind: NoticeKind, text: string, detail?: string): void {
    const p = el('p', { class: `notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
    if (detail) p.append(el('span', { class: 'notice-detail' }, detail));
    this.root.replaceChildren(p);
  }

  /** Shows a failed request: the DMTF message, and the service's suggested resolution. */
  showError(err: unknown, prefix?: string): void {
    const text = err instanceof Error ? err.message : String(err);
    const detail = err instanceof ApiError ? err.resolution : undefined;
    this.show('error', prefix ? `${prefix}: ${text}` : text, detail);
  }

  clear(): void {
    this.root.replaceChildren();
  }
}
