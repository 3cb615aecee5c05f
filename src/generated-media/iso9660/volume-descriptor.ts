// ECMA-119 8.4/8.5: the primary volume descriptor, the Joliet supplementary one (UCS-2 level 3)
// and the set terminator.
import { both16, both32, identifier, SECTOR, volumeDate } from './encoding.js';

export interface VolumeFields {
  volumeId: string;
  volumeSetId: string;
  applicationId: string;
  volumeSectors: number;
  pathTableSize: number;
  lPathTable: number;
  mPathTable: number;
  /** The 34-byte root directory record. */
  rootRecord: Buffer;
}

export function volumeDescriptor(joliet: boolean, fields: VolumeFields): Buffer {
  const vd = Buffer.alloc(SECTOR);
  vd[0] = joliet ? 2 : 1;
  vd.write('CD001', 1, 'latin1');
  vd[6] = 1;
  const id = (offset: number, length: number, text: string) => identifier(vd, offset, length, text, joliet);
  id(8, 32, ''); // system identifier
  id(40, 32, fields.volumeId);
  both32(vd, 80, fields.volumeSectors);
  if (joliet) vd.write('%/E', 88, 'latin1'); // UCS-2 level 3
  both16(vd, 120, 1); // volume set size
  both16(vd, 124, 1); // volume sequence number
  both16(vd, 128, SECTOR);
  both32(vd, 132, fields.pathTableSize);
  vd.writeUInt32LE(fields.lPathTable, 140);
  vd.writeUInt32BE(fields.mPathTable, 148);
  fields.rootRecord.copy(vd, 156);
  id(190, 128, fields.volumeSetId);
  id(318, 128, ''); // publisher
  id(446, 128, ''); // data preparer
  id(574, 128, fields.applicationId);
  id(702, 37, ''); // copyright file
  id(739, 37, ''); // abstract file
  id(776, 37, ''); // bibliographic file
  volumeDate(vd, 813, true); // creation
  volumeDate(vd, 830, true); // modification
  volumeDate(vd, 847, false); // expiration
  volumeDate(vd, 864, false); // effective
  vd[881] = 1; // file structure version
  return vd;
}

export function terminator(): Buffer {
  const vd = Buffer.alloc(SECTOR);
  vd[0] = 255;
  vd.write('CD001', 1, 'latin1');
  vd[6] = 1;
  return vd;
}
