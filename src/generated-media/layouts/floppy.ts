// Ironic's agent-parameters floppy (virtual media deploy): a FAT volume labelled ir-vfd-dev whose
// parameters.txt holds `key=value` lines, as ironic.common.images.create_vfat_image writes it
// (lines joined by newlines) and ironic-python-agent reads it (split on whitespace, then at '=').
import { layoutFile, type MediaFile } from '../files.js';
import type { GeneratedMediaInput } from '../schema.js';

export function floppyFiles(input: GeneratedMediaInput): MediaFile[] {
  const parameters = Object.entries(input.parameters ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, value]) => `${key}=${value}`);
  return [layoutFile('parameters.txt', parameters.join('\n'))];
}
