// The generator of first-boot media (docs/generated-media.md): a JSON document in, a config
// drive, NoCloud or Ironic floppy image out, as ISO 9660 (CD slots) or FAT (USB slots). The image
// is a function of (input, nonce) only: same both, same bytes.
import { createHash, randomBytes } from 'node:crypto';
import { GeneratedMediaError } from './errors.js';
import { writeFat, fitsGeometry, clustersNeeded } from './fat/image.js';
import { FLOPPY_1440, SECTOR_SIZE, stickGeometry, type FatGeometry } from './fat/geometry.js';
import { checkedFileSet, extraFiles, layoutFile, type MediaFile } from './files.js';
import { writeIso9660 } from './iso9660/image.js';
import { configDriveFiles } from './layouts/config-drive.js';
import { floppyFiles } from './layouts/floppy.js';
import { noCloudFiles } from './layouts/nocloud.js';
import type { GeneratedMediaFormat, GeneratedMediaInput } from './schema.js';
import { directoryTree, type TreeDirectory } from './tree.js';
import { validateInput } from './validate.js';

export { GeneratedMediaError } from './errors.js';
export { MAX_GENERATED_MEDIA_INPUT_BYTES } from './input-limit.js';
export type { GeneratedMediaFormat, GeneratedMediaInput } from './schema.js';

/** Which slot kind the image goes to: a CD gets ISO 9660, a USB stick FAT. */
export type GeneratedMediaTarget = 'cd' | 'usb';

export interface GeneratedMedia {
  image: Buffer;
  format: GeneratedMediaFormat;
  fileSystem: 'iso9660' | 'fat12' | 'fat16';
  /** The volume label blkid shows. */
  label: string;
  nonce: string;
  /** Hex SHA-256 of `image`. */
  sha256: string;
  /** Paths of the files inside the image, sorted. */
  files: string[];
}

export interface GeneratedMediaOptions {
  /** From newMediaNonce(): 16 to 64 lower-case hex digits. */
  nonce: string;
  target: GeneratedMediaTarget;
}

/** The file at the image root that holds the nonce, for the host to compare with what the BMC
 *  shows (D-Bus, Redfish). */
export const NONCE_FILE = 'vmedia-nonce';

const LABELS: Record<GeneratedMediaFormat, Partial<Record<GeneratedMediaTarget, string>>> = {
  'config-2': { cd: 'config-2', usb: 'config-2' },
  nocloud: { cd: 'cidata', usb: 'CIDATA' },
  floppy: { usb: 'ir-vfd-dev' },
};

/** A fresh per-attachment nonce: 16 random bytes in hex. */
export function newMediaNonce(): string {
  return randomBytes(16).toString('hex');
}

function layoutFiles(input: GeneratedMediaInput, nonce: string): MediaFile[] {
  switch (input.format) {
    case 'config-2':
      return configDriveFiles(input, nonce);
    case 'nocloud':
      return noCloudFiles(input, nonce);
    case 'floppy':
      return floppyFiles(input);
  }
}

/** The floppy when the files fit it (tools look for a 1440 KiB ir-vfd-dev), else a FAT16 stick. */
function fatGeometry(tree: TreeDirectory, format: GeneratedMediaFormat): FatGeometry {
  if (fitsGeometry(tree, FLOPPY_1440)) return FLOPPY_1440;
  if (format === 'floppy') throw new GeneratedMediaError('the files do not fit a 1440 KiB floppy', '/files');
  const probe = stickGeometry(0);
  const stick = stickGeometry(clustersNeeded(tree, probe.sectorsPerCluster * SECTOR_SIZE));
  if (!fitsGeometry(tree, stick))
    throw new GeneratedMediaError(`the root directory holds more than ${stick.rootEntries} FAT entries`, '/files');
  return stick;
}

/** Validates `input` (throws GeneratedMediaError with the JSON pointer of the bad property) and
 *  builds the image for a slot of kind `target`. */
export function buildGeneratedMedia(input: unknown, options: GeneratedMediaOptions): GeneratedMedia {
  if (!/^[0-9a-f]{16,64}$/.test(options.nonce)) throw new TypeError('the nonce must be 16 to 64 lower-case hex digits');
  const document = validateInput(input);
  const label = LABELS[document.format][options.target];
  if (label === undefined)
    throw new GeneratedMediaError(`a ${document.format} image is FAT only: attach it to a USB slot`, '/format');
  const files = checkedFileSet([
    ...layoutFiles(document, options.nonce),
    layoutFile(NONCE_FILE, `${options.nonce}\n`),
    ...extraFiles(document.files),
  ]);
  const tree = directoryTree(files);
  let image: Buffer;
  let fileSystem: GeneratedMedia['fileSystem'];
  if (options.target === 'cd') {
    image = writeIso9660(tree, { volumeId: label, volumeSetId: options.nonce, applicationId: 'VMEDIA' });
    fileSystem = 'iso9660';
  } else {
    const geometry = fatGeometry(tree, document.format);
    // the volume serial (blkid's UUID) is the nonce's first 8 hex digits
    image = writeFat(tree, geometry, { label, serial: parseInt(options.nonce.slice(0, 8), 16) });
    fileSystem = geometry.fatType === 12 ? 'fat12' : 'fat16';
  }
  return {
    image,
    format: document.format,
    fileSystem,
    label,
    nonce: options.nonce,
    sha256: createHash('sha256').update(image).digest('hex'),
    files: files.map((f) => f.path),
  };
}
