// The Rock Ridge (RRIP 1.10, "RRIP_1991A") entries in the System Use field of primary directory
// records: SP marks SUSP on the root, ER names the extension (in a continuation area: it does not
// fit a record), PX gives POSIX mode and links, NM the real file name. Linux and libisofs read the
// tree through these; Joliet is for Windows and macOS.
import { both32 } from './encoding.js';

const ER_ID = 'RRIP_1991A';
const ER_DESCRIPTOR = 'THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS';
const ER_SOURCE =
  'PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.';

export const DIRECTORY_MODE = 0o40555;
export const FILE_MODE = 0o100444;

function header(signature: string, length: number): Buffer {
  const entry = Buffer.alloc(length);
  entry.write(signature, 0, 'latin1');
  entry[2] = length;
  entry[3] = 1; // entry version
  return entry;
}

/** SUSP 5.3: "SUSP in use", on the root's "." record, skipping no bytes. */
export function spEntry(): Buffer {
  const entry = header('SP', 7);
  entry.set([0xbe, 0xef, 0], 4);
  return entry;
}

/** SUSP 5.1: the continuation area at `sector`, `length` bytes from its start. */
export function ceEntry(sector: number, length: number): Buffer {
  const entry = header('CE', 28);
  both32(entry, 4, sector);
  both32(entry, 12, 0);
  both32(entry, 20, length);
  return entry;
}

/** SUSP 5.5: the extension reference naming RRIP 1.10. */
export function erEntry(): Buffer {
  const text = ER_ID + ER_DESCRIPTOR + ER_SOURCE;
  const entry = header('ER', 8 + text.length);
  entry.set([ER_ID.length, ER_DESCRIPTOR.length, ER_SOURCE.length, 1], 4);
  entry.write(text, 8, 'latin1');
  return entry;
}

/** RRIP 4.1.1 (1.10 form, 36 bytes): mode, links, uid 0, gid 0. */
export function pxEntry(mode: number, links: number): Buffer {
  const entry = header('PX', 36);
  both32(entry, 4, mode);
  both32(entry, 12, links);
  return entry;
}

/** RRIP 4.1.4: the alternate (real) name. */
export function nmEntry(name: string): Buffer {
  const bytes = Buffer.from(name, 'utf8');
  const entry = header('NM', 5 + bytes.length);
  entry[4] = 0;
  bytes.copy(entry, 5);
  return entry;
}
