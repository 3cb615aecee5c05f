// The server side of fixed-newstyle option haggling: EXPORT_NAME, GO, INFO (EXPORT, NAME,
// BLOCK_SIZE), LIST, ABORT, STRUCTURED_REPLY; anything else is answered with the spec's error.
import type { BlockBackend } from './backend.js';
import * as C from './constants.js';
import type { Connection } from './connection.js';
import { utf8Decode, utf8Encode } from './platform.js';
import { encodeGreeting, encodeOptionReply, setU64, view } from './wire.js';

/** Option data larger than this is discarded unread (a name is at most 4096 bytes). */
const MAX_OPTION_BYTES = 16 * 1024;
const PREFERRED_BLOCK_BYTES = 4096;

/** The backend's preferred size, made what the spec allows: a power of 2, 512 up to our maximum. */
function preferredBlockBytes(backend: BlockBackend, maxRequestBytes: number): number {
  const wanted = Math.min(backend.preferredBlockBytes ?? PREFERRED_BLOCK_BYTES, maxRequestBytes);
  return Math.max(512, 2 ** Math.floor(Math.log2(wanted)));
}

export interface ExportLookup {
  get(name: string): BlockBackend | undefined;
  /** Names for NBD_OPT_LIST; undefined when exports are resolved on demand and cannot be listed. */
  names(): string[] | undefined;
}

export interface Negotiated {
  backend: BlockBackend;
  structured: boolean;
  /** Transmission flags as sent to the client. */
  flags: number;
}

export function transmissionFlags(backend: BlockBackend, structured: boolean): number {
  let flags = C.FLAG_HAS_FLAGS | C.FLAG_SEND_FLUSH | C.FLAG_SEND_CACHE;
  if (backend.readOnly) flags |= C.FLAG_READ_ONLY;
  else flags |= C.FLAG_SEND_FUA | C.FLAG_SEND_TRIM | C.FLAG_SEND_WRITE_ZEROES;
  if (structured) flags |= C.FLAG_SEND_DF; // a read is always answered with one data chunk
  if (backend.readOnly || backend.multiConn) flags |= C.FLAG_CAN_MULTI_CONN;
  return flags;
}

/**
 * Runs option haggling. Resolves with the export to serve, or undefined when the session ends
 * here (ABORT, a violation that requires a hard disconnect); the caller closes the connection.
 */
export async function negotiate(
  conn: Connection,
  exports: ExportLookup,
  maxRequestBytes: number,
): Promise<Negotiated | undefined> {
  const { reader } = conn;
  conn.send(encodeGreeting(C.FLAG_FIXED_NEWSTYLE | C.FLAG_NO_ZEROES));
  const clientFlags = view(await reader.read(4)).getUint32(0);
  // the spec: the server MUST drop the connection on client flags it does not know
  if ((clientFlags & ~(C.FLAG_C_FIXED_NEWSTYLE | C.FLAG_C_NO_ZEROES)) !== 0) return undefined;
  const noZeroes = (clientFlags & C.FLAG_C_NO_ZEROES) !== 0;
  let structured = false;

  const reply = (option: number, type: number, data: Uint8Array = new Uint8Array(0)) =>
    conn.send(encodeOptionReply(option, type, data));
  const fail = (option: number, type: number, message: string) => reply(option, type, utf8Encode(message));

  for (;;) {
    await conn.drained(); // a client that sends options without reading the replies gets no more
    const header = view(await reader.read(C.OPTION_HEADER_BYTES));
    if (header.getUint32(0) !== C.IHAVEOPT_HI || header.getUint32(4) !== C.IHAVEOPT_LO) return undefined;
    const option = header.getUint32(8);
    const length = header.getUint32(12);
    if (length > MAX_OPTION_BYTES) {
      if (option === C.OPT_EXPORT_NAME) return undefined; // cannot be answered with an error
      await reader.discard(length);
      fail(option, C.REP_ERR_TOO_BIG, `option data of ${length} bytes exceeds the limit of ${MAX_OPTION_BYTES}`);
      continue;
    }
    const data = await reader.read(length);

    switch (option) {
      case C.OPT_EXPORT_NAME: {
        const name = utf8Decode(data);
        const backend = name === undefined ? undefined : exports.get(name);
        if (!backend) return undefined; // the spec: MUST terminate the session
        const flags = transmissionFlags(backend, structured);
        const out = new Uint8Array(10 + (noZeroes ? 0 : C.EXPORT_NAME_ZEROES));
        setU64(view(out), 0, backend.size);
        view(out).setUint16(8, flags);
        conn.send(out);
        return { backend, structured, flags };
      }
      case C.OPT_ABORT:
        reply(option, C.REP_ACK);
        return undefined;
      case C.OPT_LIST: {
        if (length !== 0) {
          fail(option, C.REP_ERR_INVALID, 'NBD_OPT_LIST takes no data');
          break;
        }
        const names = exports.names();
        if (!names) {
          fail(option, C.REP_ERR_POLICY, 'this server resolves export names on demand and cannot list them');
          break;
        }
        for (const name of names) {
          const n = utf8Encode(name);
          const d = new Uint8Array(4 + n.length);
          view(d).setUint32(0, n.length);
          d.set(n, 4);
          reply(option, C.REP_SERVER, d);
        }
        reply(option, C.REP_ACK);
        break;
      }
      case C.OPT_STRUCTURED_REPLY:
        if (length !== 0) {
          fail(option, C.REP_ERR_INVALID, 'NBD_OPT_STRUCTURED_REPLY takes no data');
          break;
        }
        structured = true;
        reply(option, C.REP_ACK);
        break;
      case C.OPT_INFO:
      case C.OPT_GO: {
        const request = parseInfoRequest(data);
        if (typeof request === 'string') {
          fail(option, C.REP_ERR_INVALID, request);
          break;
        }
        const backend = exports.get(request.name);
        if (!backend) {
          fail(option, C.REP_ERR_UNKNOWN, `no export named "${request.name}"`);
          break;
        }
        const flags = transmissionFlags(backend, structured);
        const exportInfo = new Uint8Array(12);
        view(exportInfo).setUint16(0, C.INFO_EXPORT);
        setU64(view(exportInfo), 2, backend.size);
        view(exportInfo).setUint16(10, flags);
        reply(option, C.REP_INFO, exportInfo);
        if (request.infos.includes(C.INFO_NAME)) {
          const n = utf8Encode(request.name);
          const d = new Uint8Array(2 + n.length);
          view(d).setUint16(0, C.INFO_NAME);
          d.set(n, 2);
          reply(option, C.REP_INFO, d);
        }
        // always sent: a client that did not ask still learns our request-size cap
        const blockSize = new Uint8Array(14);
        const bv = view(blockSize);
        bv.setUint16(0, C.INFO_BLOCK_SIZE);
        bv.setUint32(2, 1);
        bv.setUint32(6, preferredBlockBytes(backend, maxRequestBytes));
        bv.setUint32(10, maxRequestBytes);
        reply(option, C.REP_INFO, blockSize);
        reply(option, C.REP_ACK);
        if (option === C.OPT_GO) return { backend, structured, flags };
        break;
      }
      case C.OPT_STARTTLS:
        fail(option, C.REP_ERR_POLICY, 'TLS is not offered by this server');
        break;
      default:
        fail(option, C.REP_ERR_UNSUP, `option ${option} is not supported`);
    }
  }
}

/** NBD_OPT_INFO/GO data: u32 name length, name, u16 count, count × u16 info type. */
function parseInfoRequest(data: Uint8Array): { name: string; infos: number[] } | string {
  if (data.length < 6) return `option data of ${data.length} bytes is too short`;
  const v = view(data);
  const nameLength = v.getUint32(0);
  if (nameLength > C.MAX_STRING_BYTES || nameLength > data.length - 6)
    return 'export name length is inconsistent with the option length';
  const count = v.getUint16(4 + nameLength);
  if (data.length !== 6 + nameLength + 2 * count)
    return 'information request count is inconsistent with the option length';
  const name = utf8Decode(data.subarray(4, 4 + nameLength));
  if (name === undefined) return 'export name is not valid UTF-8';
  const infos: number[] = [];
  for (let i = 0; i < count; i++) infos.push(v.getUint16(6 + nameLength + 2 * i));
  return { name, infos };
}
