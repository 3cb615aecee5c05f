// The client side of option haggling: NBD_OPT_GO (asking for block sizes), falling back to
// NBD_OPT_EXPORT_NAME for servers that do not know GO or only speak non-fixed newstyle.
import * as C from './constants.js';
import type { Connection } from './connection.js';
import { utf8Decode, utf8Encode } from './platform.js';
import { encodeOption, getU64, view } from './wire.js';

/** Option replies larger than this are a broken server, not data to buffer. */
const MAX_OPTION_REPLY_BYTES = 64 * 1024;

export interface ExportInfo {
  size: number;
  flags: number;
  /** Largest request the server accepts (NBD_INFO_BLOCK_SIZE maximum, else the spec's default). */
  maxRequestBytes: number;
  /** The server's preferred request size (NBD_INFO_BLOCK_SIZE), when it said. */
  preferredBlockBytes?: number;
}

export class NbdHandshakeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NbdHandshakeError';
  }
}

export async function clientHandshake(conn: Connection, exportName: string): Promise<ExportInfo> {
  const greeting = view(await conn.reader.read(C.GREETING_BYTES));
  if (greeting.getUint32(0) !== C.NBDMAGIC_HI || greeting.getUint32(4) !== C.NBDMAGIC_LO) {
    throw new NbdHandshakeError('the peer is not an NBD server (no NBDMAGIC greeting)');
  }
  if (greeting.getUint32(8) === C.CLISERV_MAGIC_HI)
    throw new NbdHandshakeError('the server speaks oldstyle NBD negotiation, which is not supported');
  if (greeting.getUint32(8) !== C.IHAVEOPT_HI || greeting.getUint32(12) !== C.IHAVEOPT_LO) {
    throw new NbdHandshakeError('the server sent an unknown NBD greeting');
  }
  const serverFlags = greeting.getUint16(16);
  const fixed = (serverFlags & C.FLAG_FIXED_NEWSTYLE) !== 0;
  const noZeroes = (serverFlags & C.FLAG_NO_ZEROES) !== 0;
  const clientFlags = new Uint8Array(4);
  view(clientFlags).setUint32(0, (fixed ? C.FLAG_C_FIXED_NEWSTYLE : 0) | (noZeroes ? C.FLAG_C_NO_ZEROES : 0));
  conn.send(clientFlags);

  const name = utf8Encode(exportName);
  if (fixed) {
    const info = await optGo(conn, exportName, name);
    if (info) return info;
  }
  conn.send(encodeOption(C.OPT_EXPORT_NAME, name));
  const reply = view(
    await conn.reader.read(10).catch(() => {
      throw new NbdHandshakeError(
        `the server closed the connection: export "${exportName}" does not exist or was refused`,
      );
    }),
  );
  if (!noZeroes) await conn.reader.discard(C.EXPORT_NAME_ZEROES);
  return { size: getU64(reply, 0), flags: reply.getUint16(8), maxRequestBytes: C.DEFAULT_MAX_REQUEST_BYTES };
}

/** Resolves undefined when the server does not support NBD_OPT_GO (then EXPORT_NAME is used). */
async function optGo(conn: Connection, exportName: string, name: Uint8Array): Promise<ExportInfo | undefined> {
  const data = new Uint8Array(4 + name.length + 2 + 2);
  const dv = view(data);
  dv.setUint32(0, name.length);
  data.set(name, 4);
  dv.setUint16(4 + name.length, 1);
  dv.setUint16(6 + name.length, C.INFO_BLOCK_SIZE);
  conn.send(encodeOption(C.OPT_GO, data));

  let size: number | undefined;
  let flags = 0;
  let maxRequestBytes = C.DEFAULT_MAX_REQUEST_BYTES;
  let preferredBlockBytes: number | undefined;
  for (;;) {
    const h = view(await conn.reader.read(C.OPTION_REPLY_HEADER_BYTES));
    if (
      h.getUint32(0) !== C.OPTION_REPLY_MAGIC_HI ||
      h.getUint32(4) !== C.OPTION_REPLY_MAGIC_LO ||
      h.getUint32(8) !== C.OPT_GO
    ) {
      throw new NbdHandshakeError('the server sent a malformed reply to NBD_OPT_GO');
    }
    const type = h.getUint32(12);
    const length = h.getUint32(16);
    if (length > MAX_OPTION_REPLY_BYTES)
      throw new NbdHandshakeError(`the server sent an option reply of ${length} bytes`);
    const body = await conn.reader.read(length);
    if (type === C.REP_ACK) {
      if (size === undefined)
        throw new NbdHandshakeError('the server accepted NBD_OPT_GO without describing the export');
      return { size, flags, maxRequestBytes, ...(preferredBlockBytes ? { preferredBlockBytes } : {}) };
    }
    if (type === C.REP_ERR_UNSUP) return undefined;
    if (type & C.REP_FLAG_ERROR) {
      const reason = C.OPTION_REPLY_NAMES[type] ?? `error ${type - C.REP_FLAG_ERROR}`;
      const text = utf8Decode(body);
      throw new NbdHandshakeError(`the server refused export "${exportName}": ${reason}${text ? ` (${text})` : ''}`);
    }
    if (type !== C.REP_INFO || length < 2) continue; // other replies carry nothing we need
    const bv = view(body);
    const info = bv.getUint16(0);
    if (info === C.INFO_EXPORT && length >= 12) {
      size = getU64(bv, 2);
      flags = bv.getUint16(10);
    } else if (info === C.INFO_BLOCK_SIZE && length >= 14) {
      maxRequestBytes = Math.min(bv.getUint32(10), C.DEFAULT_MAX_REQUEST_BYTES) || C.DEFAULT_MAX_REQUEST_BYTES;
      preferredBlockBytes = bv.getUint32(6) || undefined;
    }
  }
}
