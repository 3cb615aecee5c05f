// The shape of a FAT volume: the 1440 KiB floppy (FAT12, the BPB every BIOS and mtools know) or
// a small FAT16 stick sized to its contents.

export interface FatGeometry {
  fatType: 12 | 16;
  totalSectors: number;
  sectorsPerCluster: number;
  reservedSectors: number;
  fatCount: number;
  rootEntries: number;
  sectorsPerFat: number;
  mediaDescriptor: number;
  sectorsPerTrack: number;
  heads: number;
  driveNumber: number;
}

export const SECTOR_SIZE = 512;

export const FLOPPY_1440: FatGeometry = {
  fatType: 12,
  totalSectors: 2880,
  sectorsPerCluster: 1,
  reservedSectors: 1,
  fatCount: 2,
  rootEntries: 224,
  sectorsPerFat: 9,
  mediaDescriptor: 0xf0,
  sectorsPerTrack: 18,
  heads: 2,
  driveNumber: 0x00,
};

/** FAT16 needs at least 4085 clusters (fewer is FAT12 by definition); a margin keeps us off the
 *  edge where readers disagree. */
const MIN_FAT16_CLUSTERS = 4200;
const STICK_ROUNDING_SECTORS = 2048; // whole MiB

export function firstDataSector(g: FatGeometry): number {
  return g.reservedSectors + g.fatCount * g.sectorsPerFat + rootDirectorySectors(g);
}

function rootDirectorySectors(g: FatGeometry): number {
  return Math.ceil((g.rootEntries * 32) / SECTOR_SIZE);
}

export function clusterCount(g: FatGeometry): number {
  return Math.floor((g.totalSectors - firstDataSector(g)) / g.sectorsPerCluster);
}

/** A FAT16 stick with room for `clusters` clusters of 2 KiB and 512 root entries. */
export function stickGeometry(clusters: number): FatGeometry {
  const sectorsPerCluster = 4;
  const rootEntries = 512;
  const wanted = Math.max(MIN_FAT16_CLUSTERS, clusters);
  const base = { fatType: 16 as const, sectorsPerCluster, reservedSectors: 1, fatCount: 2, rootEntries };
  const bare = 1 + Math.ceil((rootEntries * 32) / SECTOR_SIZE) + wanted * sectorsPerCluster;
  const fatGuess = Math.ceil(((wanted + 2) * 2) / SECTOR_SIZE);
  const totalSectors = Math.ceil((bare + 2 * fatGuess) / STICK_ROUNDING_SECTORS) * STICK_ROUNDING_SECTORS;
  // the FAT covers every cluster the rounded size holds
  const sectorsPerFat = Math.ceil(((Math.ceil(totalSectors / sectorsPerCluster) + 2) * 2) / SECTOR_SIZE);
  return {
    ...base,
    totalSectors,
    sectorsPerFat,
    mediaDescriptor: 0xf8,
    sectorsPerTrack: 32,
    heads: 64,
    driveNumber: 0x80,
  };
}
