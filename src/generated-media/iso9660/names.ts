// File identifiers of the two directory trees. The primary tree holds ISO 9660 level 1 names
// (8.3, upper case, unique in their directory, made deterministically from the real names in
// byte order); readers that know Rock Ridge or Joliet never show them.
import { ucs2be } from './encoding.js';

export interface NamedEntry {
  name: string;
  isDirectory: boolean;
}

const dCharacters = (text: string) => text.toUpperCase().replace(/[^A-Z0-9_]/g, '_');

function shortForm(entry: NamedEntry): { base: string; extension: string } {
  const dot = entry.isDirectory ? -1 : entry.name.lastIndexOf('.');
  const base = dCharacters(dot > 0 ? entry.name.slice(0, dot) : entry.name).slice(0, 8) || '_';
  const extension = dot > 0 ? dCharacters(entry.name.slice(dot + 1)).slice(0, 3) : '';
  return { base, extension };
}

/** Level 1 identifiers for the entries of one directory, in the entries' order: `NAME.EXT;1` for
 *  files, `NAME` for directories; a clash replaces the end of the name with a number. */
export function primaryIdentifiers(entries: NamedEntry[]): string[] {
  const taken = new Set<string>();
  return entries.map((entry) => {
    const { base, extension } = shortForm(entry);
    const form = (b: string) => (entry.isDirectory ? b : `${b}.${extension}`);
    let candidate = form(base);
    for (let n = 1; taken.has(candidate); n++) candidate = form(base.slice(0, 8 - String(n).length) + String(n));
    taken.add(candidate);
    return entry.isDirectory ? candidate : `${candidate};1`;
  });
}

export function primaryIdentifierBytes(identifier: string): Buffer {
  return Buffer.from(identifier, 'latin1');
}

/** Joliet identifier: the real name in UCS-2 big-endian, files with the version `;1`. */
export function jolietIdentifierBytes(entry: NamedEntry): Buffer {
  return ucs2be(entry.isDirectory ? entry.name : `${entry.name};1`);
}
