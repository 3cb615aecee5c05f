// Wire constants of the NBD protocol (NetworkBlockDevice/nbd doc/proto.md). Names follow the
// spec so that reading this code next to the spec is easy.

export const NBDMAGIC_HI = 0x4e42444d; // 'NBDM'
export const NBDMAGIC_LO = 0x41474943; // 'AGIC'
export const IHAVEOPT_HI = 0x49484156; // 'IHAV'
export const IHAVEOPT_LO = 0x454f5054; // 'EOPT'
export const CLISERV_MAGIC_HI = 0x00004202; // oldstyle negotiation, not supported
export const OPTION_REPLY_MAGIC_HI = 0x0003e889;
export const OPTION_REPLY_MAGIC_LO = 0x045565a9;
export const REQUEST_MAGIC = 0x25609513;
export const SIMPLE_REPLY_MAGIC = 0x67446698;
export const STRUCTURED_REPLY_MAGIC = 0x668e33ef;

// handshake flags (server) and client flags
export const FLAG_FIXED_NEWSTYLE = 1 << 0;
export const FLAG_NO_ZEROES = 1 << 1;
export const FLAG_C_FIXED_NEWSTYLE = 1 << 0;
export const FLAG_C_NO_ZEROES = 1 << 1;

// transmission flags
export const FLAG_HAS_FLAGS = 1 << 0;
export const FLAG_READ_ONLY = 1 << 1;
export const FLAG_SEND_FLUSH = 1 << 2;
export const FLAG_SEND_FUA = 1 << 3;
export const FLAG_SEND_TRIM = 1 << 5;
export const FLAG_SEND_WRITE_ZEROES = 1 << 6;
export const FLAG_SEND_DF = 1 << 7;
export const FLAG_CAN_MULTI_CONN = 1 << 8;
export const FLAG_SEND_CACHE = 1 << 10;

// options
export const OPT_EXPORT_NAME = 1;
export const OPT_ABORT = 2;
export const OPT_LIST = 3;
export const OPT_STARTTLS = 5;
export const OPT_INFO = 6;
export const OPT_GO = 7;
export const OPT_STRUCTURED_REPLY = 8;

// option replies
export const REP_ACK = 1;
export const REP_SERVER = 2;
export const REP_INFO = 3;
export const REP_FLAG_ERROR = 0x80000000;
export const REP_ERR_UNSUP = REP_FLAG_ERROR + 1;
export const REP_ERR_POLICY = REP_FLAG_ERROR + 2;
export const REP_ERR_INVALID = REP_FLAG_ERROR + 3;
export const REP_ERR_UNKNOWN = REP_FLAG_ERROR + 6;
export const REP_ERR_TOO_BIG = REP_FLAG_ERROR + 9;

export const OPTION_REPLY_NAMES: Readonly<Record<number, string>> = {
  [REP_FLAG_ERROR + 1]: 'NBD_REP_ERR_UNSUP',
  [REP_FLAG_ERROR + 2]: 'NBD_REP_ERR_POLICY',
  [REP_FLAG_ERROR + 3]: 'NBD_REP_ERR_INVALID',
  [REP_FLAG_ERROR + 4]: 'NBD_REP_ERR_PLATFORM',
  [REP_FLAG_ERROR + 5]: 'NBD_REP_ERR_TLS_REQD',
  [REP_FLAG_ERROR + 6]: 'NBD_REP_ERR_UNKNOWN',
  [REP_FLAG_ERROR + 7]: 'NBD_REP_ERR_SHUTDOWN',
  [REP_FLAG_ERROR + 8]: 'NBD_REP_ERR_BLOCK_SIZE_REQD',
  [REP_FLAG_ERROR + 9]: 'NBD_REP_ERR_TOO_BIG',
};

// NBD_OPT_INFO / NBD_OPT_GO information types
export const INFO_EXPORT = 0;
export const INFO_NAME = 1;
export const INFO_BLOCK_SIZE = 3;

// commands and command flags
export const CMD_READ = 0;
export const CMD_WRITE = 1;
export const CMD_DISC = 2;
export const CMD_FLUSH = 3;
export const CMD_TRIM = 4;
export const CMD_CACHE = 5;
export const CMD_WRITE_ZEROES = 6;
export const CMD_FLAG_FUA = 1 << 0;
export const CMD_FLAG_NO_HOLE = 1 << 1;
export const CMD_FLAG_DF = 1 << 2;

export const COMMAND_NAMES: Readonly<Record<number, string>> = {
  [CMD_READ]: 'read',
  [CMD_WRITE]: 'write',
  [CMD_DISC]: 'disconnect',
  [CMD_FLUSH]: 'flush',
  [CMD_TRIM]: 'trim',
  [CMD_CACHE]: 'cache',
  [CMD_WRITE_ZEROES]: 'write-zeroes',
};

// structured reply chunks
export const REPLY_FLAG_DONE = 1 << 0;
export const REPLY_TYPE_NONE = 0;
export const REPLY_TYPE_OFFSET_DATA = 1;
export const REPLY_TYPE_ERROR = (1 << 15) + 1;

// sizes of fixed wire structures
export const GREETING_BYTES = 18; // NBDMAGIC + IHAVEOPT + u16 handshake flags
export const OPTION_HEADER_BYTES = 16; // IHAVEOPT + u32 option + u32 length
export const OPTION_REPLY_HEADER_BYTES = 20;
export const REQUEST_BYTES = 28;
export const SIMPLE_REPLY_BYTES = 16;
export const STRUCTURED_REPLY_HEADER_BYTES = 20;
export const EXPORT_NAME_ZEROES = 124;

/** Strings in the protocol (export names, messages) must be no longer than this. */
export const MAX_STRING_BYTES = 4096;
/** The spec's default maximum payload when a server advertises none. */
export const DEFAULT_MAX_REQUEST_BYTES = 32 * 1024 * 1024;
