// What a signed-in operator sees: the media library, the BMCs and the attachments. The
// attachments are polled every 2 s for their live status (not while the tab is hidden); images and
// BMCs change rarely and are read again after a change made here and every 30 s.
import { el } from '../dom.js';
import { Notice } from '../notice.js';
import { AttachmentsPanel, SHOWN_STATES } from './attachments-panel.js';
import { BmcsPanel } from './bmcs-panel.js';
import type { GatewayApi } from './gateway-api.js';
import { ImagesPanel } from './images-panel.js';

const POLL_MS = 2000;
/** Every this many polls the images and BMCs are read again too. */
const FULL_EVERY = 15;

export class ConsoleView {
  private readonly images: ImagesPanel;
  private readonly bmcs = new BmcsPanel();
  private readonly attachments: AttachmentsPanel;
  private readonly notice = new Notice();
  readonly root: HTMLElement;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private polls = 0;
  private disposed = false;

  constructor(private readonly api: GatewayApi) {
    this.images = new ImagesPanel(api);
    this.attachments = new AttachmentsPanel(api);
    this.images.onChange = () => void this.refresh(true);
    this.attachments.onChange = () => void this.refresh(false);
    this.root = el(
      'div',
      { class: 'console' },
      this.notice.root,
      this.attachments.root,
      this.images.root,
      this.bmcs.root,
    );
  }

  /** The first full read; its failure (a 401 included) is the caller's to show. */
  async start(): Promise<void> {
    await this.load(true);
    this.schedule();
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.timer);
  }

  private async load(full: boolean): Promise<void> {
    if (full) {
      const [images, bmcs] = await Promise.all([this.api.images(), this.api.bmcs()]);
      this.images.show(images);
      this.bmcs.show(bmcs);
      this.attachments.setChoices(images, bmcs);
    }
    this.attachments.show(await this.api.attachments(SHOWN_STATES));
  }

  private async refresh(full: boolean): Promise<void> {
    try {
      await this.load(full);
      this.notice.clear();
    } catch (err) {
      if (!this.disposed) this.notice.showError(err, 'Could not refresh');
    }
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      // a tab in the background asks nothing; it catches up at its next poll once shown
      const work = document.hidden ? Promise.resolve() : this.refresh(++this.polls % FULL_EVERY === 0);
      void work.then(() => {
        if (!this.disposed) this.schedule();
      });
    }, POLL_MS);
  }
}
