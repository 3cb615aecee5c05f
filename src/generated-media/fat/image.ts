// A FAT12/16 image of a directory tree: boot sector with the BPB, two FATs, the root directory
// (volume label first), then the clusters: each directory's subdirectory tables and files in
// tree order, directories breadth-first. Every chain is contiguous.
import { breadthFirst, type TreeDirectory, type TreeFile } from '../tree.js';
import {
  ATTR_ARCHIVE,
  ATTR_DIRECTORY,
  ATTR_VOLUME_LABEL,
  ENTRY_SIZE,
  entryCount,
  longNameEntries,
  shortEntry,
  shortNameIsExact,
  shortNames,
} from './directory-entry.js';
import { clusterCount, firstDataSector, SECTOR_SIZE, type FatGeometry } from './geometry.js';

export interface FatOptions {
  /** At most 11 characters; written as given (blkid shows it as it is). */
  label: string;
  serial: number;
}

interface Entry {
  name: string;
  shortName: string;
  item: TreeDirectory | TreeFile;
}

const isDirectory = (item: TreeDirectory | TreeFile): item is TreeDirectory => 'directories' in item;

function entriesOf(dir: TreeDirectory): Entry[] {
  const items = [...dir.directories, ...dir.files].sort((a, b) => (a.name < b.name ? -1 : 1));
  const shorts = shortNames(items.map((i) => i.name));
  return items.map((item, i) => ({ name: item.name, shortName: shorts[i]!, item }));
}

/** Directory entries a directory's table holds: its own (label or "." and "..") and its items'. */
function tableEntries(dir: TreeDirectory, isRoot: boolean): number {
  return entriesOf(dir).reduce((n, e) => n + entryCount(e.name, e.shortName), isRoot ? 1 : 2);
}

/** Clusters the tree needs outside the root directory, with clusters of `clusterBytes`. */
export function clustersNeeded(tree: TreeDirectory, clusterBytes: number): number {
  const of = (bytes: number) => Math.ceil(bytes / clusterBytes);
  return breadthFirst(tree).reduce(
    (n, dir) =>
      n +
      (dir === tree ? 0 : of(tableEntries(dir, false) * ENTRY_SIZE)) +
      dir.files.reduce((m, f) => m + of(f.content.length), 0),
    0,
  );
}

/** Whether the tree fits `g`: its root entries and its clusters. */
export function fitsGeometry(tree: TreeDirectory, g: FatGeometry): boolean {
  return (
    tableEntries(tree, true) <= g.rootEntries &&
    clustersNeeded(tree, g.sectorsPerCluster * SECTOR_SIZE) <= clusterCount(g)
  );
}

function bootSector(g: FatGeometry, options: FatOptions): Buffer {
  const boot = Buffer.alloc(SECTOR_SIZE);
  boot.set([0xeb, 0x3c, 0x90], 0); // jump over the BPB to the boot code
  boot.write('VMEDIA  ', 3, 'latin1');
  boot.writeUInt16LE(SECTOR_SIZE, 11);
  boot[13] = g.sectorsPerCluster;
  boot.writeUInt16LE(g.reservedSectors, 14);
  boot[16] = g.fatCount;
  boot.writeUInt16LE(g.rootEntries, 17);
  boot.writeUInt16LE(g.totalSectors < 0x10000 ? g.totalSectors : 0, 19);
  boot[21] = g.mediaDescriptor;
  boot.writeUInt16LE(g.sectorsPerFat, 22);
  boot.writeUInt16LE(g.sectorsPerTrack, 24);
  boot.writeUInt16LE(g.heads, 26);
  boot.writeUInt32LE(g.totalSectors < 0x10000 ? 0 : g.totalSectors, 32);
  boot[36] = g.driveNumber;
  boot[38] = 0x29; // extended boot signature: serial, label and type follow
  boot.writeUInt32LE(options.serial >>> 0, 39);
  boot.write(options.label.padEnd(11, ' '), 43, 11, 'latin1');
  boot.write(`FAT${g.fatType}   `, 54, 8, 'latin1');
  boot.set([0xf4, 0xeb, 0xfd], 62); // not bootable: halt
  boot.set([0x55, 0xaa], 510);
  return boot;
}

function fatTable(g: FatGeometry, next: number[]): Buffer {
  const table = Buffer.alloc(g.sectorsPerFat * SECTOR_SIZE);
  const values = [
    (g.fatType === 12 ? 0xf00 : 0xff00) | g.mediaDescriptor,
    g.fatType === 12 ? 0xfff : 0xffff,
    ...next.slice(2),
  ];
  values.forEach((value, n) => {
    if (g.fatType === 16) table.writeUInt16LE(value, n * 2);
    else {
      const at = Math.floor((n * 3) / 2);
      const pair = table.readUInt16LE(at);
      table.writeUInt16LE(n % 2 === 0 ? (pair & 0xf000) | value : (pair & 0x000f) | (value << 4), at);
    }
  });
  return table;
}

export function writeFat(tree: TreeDirectory, g: FatGeometry, options: FatOptions): Buffer {
  const clusterBytes = g.sectorsPerCluster * SECTOR_SIZE;
  const image = Buffer.alloc(g.totalSectors * SECTOR_SIZE);
  const dataStart = firstDataSector(g) * SECTOR_SIZE;
  const rootStart = (g.reservedSectors + g.fatCount * g.sectorsPerFat) * SECTOR_SIZE;
  const endOfChain = g.fatType === 12 ? 0xfff : 0xffff;
  const next: number[] = [0, 0];
  const firstCluster = new Map<TreeDirectory | TreeFile, number>();
  const allocate = (item: TreeDirectory | TreeFile, bytes: number) => {
    const count = Math.ceil(bytes / clusterBytes);
    if (count === 0) return firstCluster.set(item, 0);
    const first = next.length;
    for (let i = 1; i < count; i++) next.push(first + i);
    next.push(endOfChain);
    firstCluster.set(item, first);
  };
  const directories = breadthFirst(tree);
  for (const dir of directories)
    for (const e of entriesOf(dir))
      allocate(e.item, isDirectory(e.item) ? tableEntries(e.item, false) * ENTRY_SIZE : e.item.content.length);
  if (next.length - 2 > clusterCount(g)) throw new RangeError('the tree does not fit the FAT geometry');

  const clusterOffset = (cluster: number) => dataStart + (cluster - 2) * clusterBytes;
  const parents = new Map<TreeDirectory, TreeDirectory>();
  for (const dir of directories) {
    for (const sub of dir.directories) parents.set(sub, dir);
    const own =
      dir === tree
        ? [shortEntry(options.label.padEnd(11, ' '), ATTR_VOLUME_LABEL, 0, 0)]
        : [
            shortEntry('.'.padEnd(11, ' '), ATTR_DIRECTORY, firstCluster.get(dir)!, 0),
            // ".." of a first-level directory points at cluster 0, the root
            shortEntry(
              '..'.padEnd(11, ' '),
              ATTR_DIRECTORY,
              parents.get(dir) === tree ? 0 : firstCluster.get(parents.get(dir)!)!,
              0,
            ),
          ];
    const entries = entriesOf(dir).flatMap((e) => [
      ...(shortNameIsExact(e.name, e.shortName) ? [] : longNameEntries(e.name, e.shortName)),
      isDirectory(e.item)
        ? shortEntry(e.shortName, ATTR_DIRECTORY, firstCluster.get(e.item)!, 0)
        : shortEntry(e.shortName, ATTR_ARCHIVE, firstCluster.get(e.item)!, e.item.content.length),
    ]);
    Buffer.concat([...own, ...entries]).copy(image, dir === tree ? rootStart : clusterOffset(firstCluster.get(dir)!));
    for (const f of dir.files) if (f.content.length > 0) f.content.copy(image, clusterOffset(firstCluster.get(f)!));
  }

  bootSector(g, options).copy(image, 0);
  const fat = fatTable(g, next);
  for (let i = 0; i < g.fatCount; i++) fat.copy(image, (g.reservedSectors + i * g.sectorsPerFat) * SECTOR_SIZE);
  return image;
}
