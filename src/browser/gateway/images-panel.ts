// The media library: upload a local file (its sha256 computed here while it is sent, and claimed
// at the end, so bytes damaged on the way are refused by the gateway), the list of images, delete.
import { el } from '../dom.js';
import { formatBytes } from '../format.js';
import { Notice } from '../notice.js';
import type { GatewayApi, ImageInfo } from './gateway-api.js';
import { uploadFile } from './resumable-upload.js';
import { dataTable, tableRow, when } from './table.js';

/** The gateway's image names: [A-Za-z0-9][A-Za-z0-9._-]{0,127}. */
export function imageNameOf(fileName: string): string {
  return fileName
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 128);
}

interface ProgressBar {
  root: HTMLElement;
  bar: HTMLProgressElement;
  text: HTMLElement;
}

function progressBar(id: string, label: string): ProgressBar {
  const bar = el('progress', { id, max: 1, value: 0 });
  const text = el('span', { class: 'progress-text' });
  const root = el('div', { class: 'progress', hidden: true }, el('label', { for: id }, label), bar, text);
  return { root, bar, text };
}

export class ImagesPanel {
  readonly root: HTMLElement;
  /** Called after an upload or a delete changed the library. */
  onChange: () => void = () => {};
  private readonly table = dataTable('Images', ['Name', 'Size', 'sha256', 'Created', 'By', '']);
  private readonly notice = new Notice();
  private readonly file = el('input', { id: 'upload-file', type: 'file', required: true });
  private readonly name = el('input', {
    id: 'upload-name',
    required: true,
    pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{0,127}',
    spellcheck: 'false',
    autocapitalize: 'none',
  });
  private readonly submit = el('button', { type: 'submit', class: 'primary' }, 'Upload');
  private readonly hashing = progressBar('hash-progress', 'Computing sha256');
  private readonly uploading = progressBar('upload-progress', 'Uploading');

  constructor(private readonly api: GatewayApi) {
    const form = el(
      'form',
      { class: 'upload', 'aria-labelledby': 'upload-title' },
      el('h3', { id: 'upload-title' }, 'Upload an image'),
      el('label', { for: 'upload-file' }, 'Image file'),
      this.file,
      el('label', { for: 'upload-name' }, 'Name'),
      this.name,
      el('p', { class: 'hint' }, 'Letters, digits, dot, dash and underscore.'),
      this.submit,
      this.hashing.root,
      this.uploading.root,
    );
    this.file.addEventListener('change', () => {
      const picked = this.file.files?.[0];
      if (picked) this.name.value = imageNameOf(picked.name);
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const picked = this.file.files?.[0];
      if (picked) void this.upload(picked, this.name.value);
    });
    this.root = el(
      'section',
      { class: 'panel', 'aria-labelledby': 'images-title' },
      el('h2', { id: 'images-title' }, 'Media library'),
      form,
      this.notice.root,
      this.table.root,
    );
  }

  show(images: ImageInfo[]): void {
    this.table.show(
      images.map((image) => {
        const remove = el(
          'button',
          { type: 'button', class: 'danger', 'aria-label': `Delete ${image.name}` },
          'Delete',
        );
        remove.addEventListener('click', () => void this.remove(image, remove));
        return tableRow(
          image.name,
          formatBytes(image.size),
          el('code', { class: 'digest' }, image.sha256),
          when(image.created),
          image.createdBy,
          remove,
        );
      }),
      'No images yet.',
    );
  }

  private async upload(file: File, name: string): Promise<void> {
    this.submit.disabled = true;
    this.notice.clear();
    const track = (p: ProgressBar, done: number) => {
      p.root.hidden = false;
      p.bar.max = Math.max(file.size, 1);
      p.bar.value = done;
      p.text.textContent = `${formatBytes(done)} of ${formatBytes(file.size)}`;
    };
    try {
      track(this.hashing, 0);
      track(this.uploading, 0);
      const image = await uploadFile(this.api, file, name, {
        hashed: (bytes) => track(this.hashing, bytes),
        sent: (bytes) => track(this.uploading, bytes),
      });
      this.notice.show('success', `Uploaded ${image.name} (${formatBytes(image.size)}).`);
      this.file.value = '';
      this.name.value = '';
      this.onChange();
    } catch (err) {
      this.notice.showError(err, `Upload of ${name} failed`);
    } finally {
      this.submit.disabled = false;
    }
  }

  private async remove(image: ImageInfo, button: HTMLButtonElement): Promise<void> {
    if (!confirm(`Delete ${image.name}? BMCs can no longer be given it.`)) return;
    button.disabled = true;
    try {
      await this.api.deleteImage(image.id);
      this.notice.show('success', `Deleted ${image.name}.`);
      this.onChange();
    } catch (err) {
      this.notice.showError(err, `Could not delete ${image.name}`);
      button.disabled = false;
    }
  }
}
