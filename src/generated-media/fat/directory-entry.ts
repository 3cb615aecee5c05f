// FAT directory entries: 8.3 short names made from the real names (deterministically, in the
// directory's order), the VFAT long-name entries in front of them, and the volume label entry.
import { IMAGE_TIME } from '../tree.js';

export const ENTRY_SIZE = 32;
export const ATTR_VOLUME_LABEL = 0x08;
export const ATTR_DIRECTORY = 0x10;
export const ATTR_ARCHIVE = 0x20;
const ATTR_LONG_NAME = 0x0f;
const LFN_CHARS = 13;

/** FAT date of IMAGE_TIME: years since 1980, month, day (time 00:00:00 is 0). */
const FAT_DATE = ((IMAGE_TIME.year - 1980) << 9) | (IMAGE_TIME.month << 5) | IMAGE_TIME.day;

/** A character an 8.3 name cannot hold. */
const NOT_SHORT_CHAR = /[^A-Z0-9!#$%&'()@^_`{}~-]/g;

/** The 11-byte short name ("NAME    EXT") for each name, in order, unique in the directory. A name
 *  that is a valid 8.3 name once upper-cased keeps it; others get a numeric tail (`BASIS~1`). */
export function shortNames(names: string[]): string[] {
  const taken = new Set<string>();
  return names.map((name) => {
    const upper = name.toUpperCase();
    const dot = upper.lastIndexOf('.');
    const base = dot > 0 ? upper.slice(0, dot) : upper;
    const extension = dot > 0 ? upper.slice(dot + 1) : '';
    const basis = base.replaceAll('.', '').replace(NOT_SHORT_CHAR, '_') || '_';
    const ext = extension.replace(NOT_SHORT_CHAR, '_').slice(0, 3);
    const exact = base.length <= 8 && extension.length <= 3 && basis === base && ext === extension;
    const form = (b: string) => b.padEnd(8, ' ') + ext.padEnd(3, ' ');
    let candidate = exact ? form(base) : '';
    for (let n = 1; candidate === '' || taken.has(candidate); n++) {
      const tail = `~${n}`;
      candidate = form(basis.slice(0, 8 - tail.length) + tail);
    }
    taken.add(candidate);
    return candidate;
  });
}

/** Whether the short name shows the real name as it is, so no long-name entries are needed. */
export function shortNameIsExact(name: string, shortName: string): boolean {
  const base = shortName.slice(0, 8).trimEnd();
  const ext = shortName.slice(8).trimEnd();
  return (ext ? `${base}.${ext}` : base) === name;
}

function checksum(shortName: string): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + shortName.charCodeAt(i)) & 0xff;
  return sum;
}

/** The long-name entries for `name`, last part first, as they precede the short entry. */
export function longNameEntries(name: string, shortName: string): Buffer[] {
  const chars = Buffer.from(name, 'utf16le');
  const units = chars.length / 2;
  const count = Math.ceil(units / LFN_CHARS);
  const sum = checksum(shortName);
  const entries: Buffer[] = [];
  for (let part = count; part >= 1; part--) {
    const entry = Buffer.alloc(ENTRY_SIZE);
    entry[0] = part | (part === count ? 0x40 : 0);
    entry[11] = ATTR_LONG_NAME;
    entry[13] = sum;
    const slots = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
    slots.forEach((offset, i) => {
      const unit = (part - 1) * LFN_CHARS + i;
      // after the name: one NUL, then 0xFFFF
      const value = unit < units ? chars.readUInt16LE(unit * 2) : unit === units ? 0 : 0xffff;
      entry.writeUInt16LE(value, offset);
    });
    entries.push(entry);
  }
  return entries;
}

/** A short directory entry (also ".", ".." and the volume label). */
export function shortEntry(shortName: string, attributes: number, cluster: number, size: number): Buffer {
  const entry = Buffer.alloc(ENTRY_SIZE);
  entry.write(shortName, 0, 11, 'latin1');
  entry[11] = attributes;
  if (attributes !== ATTR_VOLUME_LABEL) {
    entry.writeUInt16LE(FAT_DATE, 16); // creation date
    entry.writeUInt16LE(FAT_DATE, 18); // access date
  }
  entry.writeUInt16LE(FAT_DATE, 24); // modification date
  entry.writeUInt16LE(cluster, 26);
  entry.writeUInt32LE(size, 28);
  return entry;
}

/** Directory entries `name` takes: long-name entries (if needed) and the short one. */
export function entryCount(name: string, shortName: string): number {
  return shortNameIsExact(name, shortName) ? 1 : 1 + Math.ceil(name.length / LFN_CHARS);
}
