// ECMA-119 9.1 directory records and their packing into directory extents: a record never
// crosses a sector boundary.
import { both16, both32, recordDate, SECTOR } from './encoding.js';

export interface RecordFields {
  /** The identifier bytes: 0x00 for ".", 0x01 for "..". */
  identifier: Buffer;
  extent: number;
  size: number;
  isDirectory: boolean;
  /** System Use field (Rock Ridge), empty in the Joliet tree. */
  systemUse?: Buffer;
}

export function directoryRecord(fields: RecordFields): Buffer {
  const idLength = fields.identifier.length;
  const systemUse = fields.systemUse ?? Buffer.alloc(0);
  const head = 33 + idLength + (idLength % 2 === 0 ? 1 : 0);
  const length = head + systemUse.length + ((head + systemUse.length) % 2);
  if (length > 255) throw new RangeError(`directory record of ${length} bytes (at most 255)`);
  const record = Buffer.alloc(length);
  record[0] = length;
  both32(record, 2, fields.extent);
  both32(record, 10, fields.size);
  recordDate(record, 18);
  record[25] = fields.isDirectory ? 0x02 : 0x00;
  both16(record, 28, 1); // volume sequence number
  record[32] = idLength;
  fields.identifier.copy(record, 33);
  systemUse.copy(record, head);
  return record;
}

/** The records laid out in sectors; the extent's size is a whole number of sectors. */
export function directoryExtent(records: Buffer[]): Buffer {
  const chunks: Buffer[] = [];
  let used = 0;
  for (const record of records) {
    const room = SECTOR - (used % SECTOR);
    if (record.length > room) {
      chunks.push(Buffer.alloc(room));
      used += room;
    }
    chunks.push(record);
    used += record.length;
  }
  const tail = (SECTOR - (used % SECTOR)) % SECTOR;
  chunks.push(Buffer.alloc(used === 0 ? SECTOR : tail));
  return Buffer.concat(chunks);
}

/** ECMA-119 9.4: one path table record; `bigEndian` for the M table. */
export function pathTableRecord(identifier: Buffer, extent: number, parent: number, bigEndian: boolean): Buffer {
  const record = Buffer.alloc(8 + identifier.length + (identifier.length % 2));
  record[0] = identifier.length;
  if (bigEndian) {
    record.writeUInt32BE(extent, 2);
    record.writeUInt16BE(parent, 6);
  } else {
    record.writeUInt32LE(extent, 2);
    record.writeUInt16LE(parent, 6);
  }
  identifier.copy(record, 8);
  return record;
}
