// An ISO 9660 image of a directory tree: a primary tree with Rock Ridge names and modes, a Joliet
// tree, both over the same file extents. Layout, in sectors: 0-15 system area, 16 primary
// descriptor, 17 Joliet descriptor, 18 terminator, the four path tables, the Rock Ridge
// continuation area, the primary directories, the Joliet directories (both breadth-first), the
// files in path order, and 300 KiB of padding (Linux reads ahead past the last file).
import type { TreeDirectory, TreeFile } from '../tree.js';
import { directoryExtent, directoryRecord, pathTableRecord } from './directory-record.js';
import { SECTOR, sectorsFor } from './encoding.js';
import { jolietIdentifierBytes, primaryIdentifierBytes, primaryIdentifiers, type NamedEntry } from './names.js';
import { ceEntry, DIRECTORY_MODE, erEntry, FILE_MODE, nmEntry, pxEntry, spEntry } from './rock-ridge.js';
import { terminator, volumeDescriptor } from './volume-descriptor.js';

export interface IsoOptions {
  volumeId: string;
  volumeSetId: string;
  applicationId: string;
}

const FIRST_FREE_SECTOR = 19;
const PADDING_SECTORS = 150;

interface FileExtent {
  content: Buffer;
  extent: number;
}

interface IsoEntry {
  identifier: Buffer;
  /** Rock Ridge entries of the record (primary tree only). */
  systemUse?: Buffer;
  target: IsoDirectory | FileExtent;
}

interface IsoDirectory {
  identifier: Buffer;
  parent: IsoDirectory | undefined;
  entries: IsoEntry[];
  /** Rock Ridge link count: ".", the parent's entry and each subdirectory's "..". */
  links: number;
  number: number;
  extent: number;
  size: number;
}

const isDirectory = (t: IsoDirectory | FileExtent): t is IsoDirectory => 'entries' in t;

function isoTree(
  dir: TreeDirectory,
  identifier: Buffer,
  parent: IsoDirectory | undefined,
  extents: Map<TreeFile, FileExtent>,
  rockRidge: boolean,
): IsoDirectory {
  const node: IsoDirectory = {
    identifier,
    parent,
    entries: [],
    links: 2 + dir.directories.length,
    number: 0,
    extent: 0,
    size: 0,
  };
  const items: (NamedEntry & { item: TreeDirectory | TreeFile })[] = [
    ...dir.directories.map((d) => ({ name: d.name, isDirectory: true, item: d })),
    ...dir.files.map((f) => ({ name: f.name, isDirectory: false, item: f })),
  ].sort((a, b) => (a.name < b.name ? -1 : 1));
  const primary = rockRidge ? primaryIdentifiers(items) : [];
  node.entries = items
    .map(({ name, isDirectory: dirEntry, item }, i) => {
      const id = rockRidge
        ? primaryIdentifierBytes(primary[i]!)
        : jolietIdentifierBytes({ name, isDirectory: dirEntry });
      const target = dirEntry
        ? isoTree(item as TreeDirectory, id, node, extents, rockRidge)
        : extents.get(item as TreeFile)!;
      const systemUse = rockRidge
        ? Buffer.concat([
            dirEntry ? pxEntry(DIRECTORY_MODE, (target as IsoDirectory).links) : pxEntry(FILE_MODE, 1),
            nmEntry(name),
          ])
        : undefined;
      return { identifier: id, systemUse, target };
    })
    .sort((a, b) => Buffer.compare(a.identifier, b.identifier));
  return node;
}

/** Directories breadth-first, children in identifier order: the path table's order. */
function breadthFirst(root: IsoDirectory): IsoDirectory[] {
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const e of out[i]!.entries) if (isDirectory(e.target)) out.push(e.target);
  out.forEach((d, i) => (d.number = i + 1));
  return out;
}

function recordOf(entry: IsoEntry): Buffer {
  const t = entry.target;
  return directoryRecord({
    identifier: entry.identifier,
    extent: t.extent,
    size: isDirectory(t) ? t.size : t.content.length,
    isDirectory: isDirectory(t),
    systemUse: entry.systemUse,
  });
}

function directoryData(dir: IsoDirectory, rockRidge: boolean, continuationSector: number): Buffer {
  const parent = dir.parent ?? dir;
  const dotUse = !rockRidge
    ? undefined
    : dir.parent
      ? pxEntry(DIRECTORY_MODE, dir.links)
      : Buffer.concat([spEntry(), ceEntry(continuationSector, erEntry().length), pxEntry(DIRECTORY_MODE, dir.links)]);
  const self = { identifier: Buffer.from([0]), systemUse: dotUse, target: dir };
  const up = {
    identifier: Buffer.from([1]),
    systemUse: rockRidge ? pxEntry(DIRECTORY_MODE, parent.links) : undefined,
    target: parent,
  };
  return directoryExtent([self, up, ...dir.entries].map(recordOf));
}

function pathTable(dirs: IsoDirectory[], bigEndian: boolean): Buffer {
  return Buffer.concat(
    dirs.map((d) =>
      pathTableRecord(d.parent ? d.identifier : Buffer.from([0]), d.extent, d.parent?.number ?? 1, bigEndian),
    ),
  );
}

function filesInOrder(dir: TreeDirectory): TreeFile[] {
  return [...dir.files, ...dir.directories.flatMap(filesInOrder)];
}

/** One directory tree of the image (primary with Rock Ridge, or Joliet) and where it lies. */
interface TreeLayout {
  joliet: boolean;
  root: IsoDirectory;
  directories: IsoDirectory[];
  pathTableSize: number;
  lPathTable: number;
  mPathTable: number;
}

export function writeIso9660(tree: TreeDirectory, options: IsoOptions): Buffer {
  const files = filesInOrder(tree);
  const extents = new Map(files.map((f) => [f, { content: f.content, extent: 0 }]));
  const layouts: TreeLayout[] = [false, true].map((joliet) => {
    const root = isoTree(tree, Buffer.from([0]), undefined, extents, !joliet);
    const directories = breadthFirst(root);
    return {
      joliet,
      root,
      directories,
      pathTableSize: pathTable(directories, false).length,
      lPathTable: 0,
      mPathTable: 0,
    };
  });

  // sizes first (records have fixed-size fields, so extents do not change them), then places
  let next = FIRST_FREE_SECTOR;
  const take = (sectors: number) => {
    const at = next;
    next += sectors;
    return at;
  };
  for (const t of layouts) {
    t.lPathTable = take(sectorsFor(t.pathTableSize));
    t.mPathTable = take(sectorsFor(t.pathTableSize));
  }
  const continuationSector = take(1);
  for (const t of layouts)
    for (const d of t.directories) {
      d.size = directoryData(d, !t.joliet, continuationSector).length;
      d.extent = take(d.size / SECTOR);
    }
  for (const f of files) extents.get(f)!.extent = take(sectorsFor(f.content.length));
  const volumeSectors = take(PADDING_SECTORS) + PADDING_SECTORS;

  const image = Buffer.alloc(volumeSectors * SECTOR);
  const put = (sector: number, data: Buffer) => data.copy(image, sector * SECTOR);
  layouts.forEach((t, i) => {
    const rootRecord = directoryRecord({
      identifier: Buffer.from([0]),
      extent: t.root.extent,
      size: t.root.size,
      isDirectory: true,
    });
    put(16 + i, volumeDescriptor(t.joliet, { ...options, ...t, volumeSectors, rootRecord }));
    put(t.lPathTable, pathTable(t.directories, false));
    put(t.mPathTable, pathTable(t.directories, true));
    for (const d of t.directories) put(d.extent, directoryData(d, !t.joliet, continuationSector));
  });
  put(16 + layouts.length, terminator());
  put(continuationSector, erEntry());
  for (const f of files) put(extents.get(f)!.extent, f.content);
  return image;
}
