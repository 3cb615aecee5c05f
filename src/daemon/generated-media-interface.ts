// Ours, on Legacy slots: GeneratedMedia.Mount(h json_fd, b rw) builds a config drive, NoCloud or
// floppy image from the JSON document on the fd (it carries secrets: never a string argument)
// and mounts it through the slot's own state machine, served from memory. The slot's media type
// picks the target: a CD slot gets an ISO 9660 image, a USB-stick slot a FAT image. The outcome is
// the slot's usual Completion (on the Legacy interface). While attached, Nonce, Format and Label
// say what the host sees; the document itself is never shown, logged or kept.
import dbus from 'dbus-next';
import { GeneratedMediaError } from '../generated-media/errors.js';
import type { GeneratedMedia } from '../generated-media/index.js';
import { formatInputProblem, GENERATED_MEDIA_INPUT_ERROR } from '../dbus/generated-media.js';
import { IFACE } from '../dbus/names.js';
import type { MountPoint } from '../mountpoint/mount-point.js';
import { toDBusError } from './dbus-errors.js';
import { readGeneratedMediaDocument } from './generated-media-request.js';

const { Interface } = dbus.interface;

/** The smallest CD medium: Linux's mass-storage gadget refuses a CD-ROM image of fewer than
 *  300 frames of 2048 bytes (ETOOSMALL, "file too small"), and config-drive ISOs are smaller. */
export const MIN_CD_IMAGE_BYTES = 300 * 2048;

/** A CD slot's image padded with zeros to MIN_CD_IMAGE_BYTES (after the ISO's last sector: the
 *  file system ignores it, as it ignores the padding mkisofs adds). */
export function cdSized(image: Buffer): Buffer {
  if (image.length >= MIN_CD_IMAGE_BYTES) return image;
  return Buffer.concat([image, Buffer.alloc(MIN_CD_IMAGE_BYTES - image.length)]);
}

/** eject_when_read: how long after the last unread byte was read the media goes. */
const EJECT_WHEN_READ_DELAY_MS = 2000;

/** The automatic eject a document may ask for (validated by the generator's schema). */
interface EjectRequest {
  eject_after?: number;
  eject_when_read?: boolean;
}

interface Attachment {
  media: Pick<GeneratedMedia, 'nonce' | 'format' | 'label'>;
  eject: EjectRequest;
  fullyRead: boolean;
  ejectTimer?: NodeJS.Timeout;
}

function inputError(err: GeneratedMediaError): dbus.DBusError {
  const prefix = `${err.path}: `;
  const reason = err.path !== '' && err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  return new dbus.DBusError(GENERATED_MEDIA_INPUT_ERROR, formatInputProblem({ path: err.path, reason }));
}

export class GeneratedMediaInterface extends Interface {
  private attachment?: Attachment;

  constructor(private readonly mp: MountPoint) {
    super(IFACE.generatedMedia);
    mp.on('state', (state) => {
      if (state === 'Active') this.activated();
      if (state === 'Ready') this.detached();
    });
  }

  get Nonce(): string {
    return this.attachment?.media.nonce ?? '';
  }
  get Format(): string {
    return this.attachment?.media.format ?? '';
  }
  get Label(): string {
    return this.attachment?.media.label ?? '';
  }

  /** Introspection only: Mount(hb) carries an fd, so the daemon's low-level handler takes every
   *  such call to mountWithJsonFd before dbus-next's dispatch could reach this. */
  Mount(): boolean {
    throw toDBusError(new Error('GeneratedMedia.Mount reached the interface without its fd'));
  }

  /** `fd` is now ours to close. Resolves true once the mount is accepted; the outcome is a Completion. */
  async mountWithJsonFd(fd: number, rw: boolean): Promise<boolean> {
    let document: unknown;
    let media: GeneratedMedia;
    try {
      document = await readGeneratedMediaDocument(fd);
      // the writers (ISO 9660, FAT) and the schema load with the first medium, not at start
      const { buildGeneratedMedia, newMediaNonce } = await import('../generated-media/index.js');
      media = buildGeneratedMedia(document, {
        nonce: newMediaNonce(),
        target: this.mp.slot.mediaType === 'CD' ? 'cd' : 'usb',
      });
    } catch (err) {
      if (err instanceof GeneratedMediaError) throw inputError(err);
      throw toDBusError(err);
    }
    const { eject_after, eject_when_read } = document as EjectRequest;
    const attachment: Attachment = {
      media: { nonce: media.nonce, format: media.format, label: media.label },
      eject: { eject_after, eject_when_read },
      fullyRead: false,
    };
    try {
      this.mp.mount({
        url: '',
        writable: rw,
        generated: {
          bytes: this.mp.slot.mediaType === 'CD' ? cdSized(media.image) : media.image,
          ...(eject_when_read ? { onFullyRead: () => this.fullyRead(attachment) } : {}),
        },
      });
    } catch (err) {
      throw toDBusError(err);
    }
    this.attachment = attachment;
    this.mp.log.info(
      {
        format: media.format,
        label: media.label,
        nonce: media.nonce,
        bytes: media.image.length,
        files: media.files.length,
      },
      'generated media built',
    );
    Interface.emitPropertiesChanged(this, { Nonce: media.nonce, Format: media.format, Label: media.label }, []);
    return true;
  }

  private activated(): void {
    const a = this.attachment;
    if (!a) return;
    const after = a.eject.eject_after;
    if (after !== undefined) a.ejectTimer = setTimeout(() => this.eject(a, `${after} s are over`), after * 1000);
    if (a.fullyRead) this.eject(a, 'the host has read every byte');
  }

  /** The read that completed the image is still being answered (and the host may read ahead
   *  of its consumer): the eject waits a moment instead of cutting that reply. */
  private fullyRead(a: Attachment): void {
    a.fullyRead = true;
    setTimeout(() => this.eject(a, 'the host has read every byte'), EJECT_WHEN_READ_DELAY_MS);
  }

  /** The automatic eject the document asked for, if its media is still the one up. */
  private eject(a: Attachment, why: string): void {
    if (this.attachment !== a || this.mp.state !== 'Active') return;
    this.mp.log.info(`ejecting the generated media: ${why}`);
    this.mp.unmount();
  }

  private detached(): void {
    const a = this.attachment;
    if (!a) return;
    clearTimeout(a.ejectTimer);
    this.attachment = undefined;
    Interface.emitPropertiesChanged(this, { Nonce: '', Format: '', Label: '' }, []);
  }
}
GeneratedMediaInterface.configureMembers({
  properties: {
    Nonce: { signature: 's', access: 'read' },
    Format: { signature: 's', access: 'read' },
    Label: { signature: 's', access: 'read' },
  },
  methods: {
    Mount: { inSignature: 'hb', outSignature: 'b' },
  },
});
