// A D-Bus connection speaking the wire protocol by hand: SASL EXTERNAL, NEGOTIATE_UNIX_FD, Hello,
// then messages built byte by byte. Tests use it to send what no D-Bus library would: a unix-fd
// argument (`h`) that points past the fds the message carries (it never carries any).
import { createConnection, type Socket } from 'node:net';

/** A body argument: `h` is an index into the message's fds (none are ever attached here). */
export type RawArg = { type: 's'; value: string } | { type: 'b'; value: boolean } | { type: 'h'; index: number };

export interface RawMessage {
  kind: 'call' | 'signal';
  destination: string;
  path: string;
  interface: string;
  member: string;
  /** The body, one complete type per argument; `v` wraps one argument in a variant. */
  body: (RawArg | { type: 'v'; value: RawArg })[];
  /** The UNIX_FDS header field; omitted when undefined. */
  unixFds?: number;
}

export interface RawReply {
  type: 'return' | 'error';
  errorName?: string;
}

const HEADER = {
  path: 1,
  interface: 2,
  member: 3,
  errorName: 4,
  replySerial: 5,
  destination: 6,
  signature: 8,
  unixFds: 9,
};
const TYPE_RETURN = 2;
const TYPE_ERROR = 3;

/** Little-endian D-Bus marshalling of the few types these messages use. */
class Writer {
  private bytes: number[] = [];
  get length(): number {
    return this.bytes.length;
  }
  align(n: number): void {
    while (this.bytes.length % n) this.bytes.push(0);
  }
  byte(v: number): void {
    this.bytes.push(v);
  }
  u32(v: number): void {
    this.align(4);
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.bytes.push(...b);
  }
  string(s: string): void {
    const b = Buffer.from(s);
    this.u32(b.length);
    this.bytes.push(...b, 0);
  }
  signature(s: string): void {
    this.byte(s.length);
    this.bytes.push(...Buffer.from(s), 0);
  }
  setU32(at: number, v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.bytes.splice(at, 4, ...b);
  }
  buffer(): Buffer {
    return Buffer.from(this.bytes);
  }
}

function writeArg(w: Writer, arg: RawArg): void {
  if (arg.type === 's') w.string(arg.value);
  else if (arg.type === 'b') w.u32(arg.value ? 1 : 0);
  else w.u32(arg.index);
}

function marshal(msg: RawMessage, serial: number): Buffer {
  const body = new Writer();
  for (const arg of msg.body) {
    if (arg.type === 'v') {
      body.signature(arg.value.type);
      writeArg(body, arg.value);
    } else writeArg(body, arg);
  }
  const signature = msg.body.map((a) => a.type).join('');
  const w = new Writer();
  w.byte('l'.charCodeAt(0));
  w.byte(msg.kind === 'call' ? 1 : 4);
  w.byte(0);
  w.byte(1);
  w.u32(body.length);
  w.u32(serial);
  w.u32(0); // header array length, set below
  const fieldsStart = w.length;
  const field = (code: number, sig: string, write: () => void) => {
    w.align(8);
    w.byte(code);
    w.signature(sig);
    write();
  };
  field(HEADER.path, 'o', () => w.string(msg.path));
  field(HEADER.interface, 's', () => w.string(msg.interface));
  field(HEADER.member, 's', () => w.string(msg.member));
  field(HEADER.destination, 's', () => w.string(msg.destination));
  if (signature) field(HEADER.signature, 'g', () => w.signature(signature));
  if (msg.unixFds !== undefined) field(HEADER.unixFds, 'u', () => w.u32(msg.unixFds!));
  w.setU32(12, w.length - fieldsStart);
  w.align(8);
  return Buffer.concat([w.buffer(), body.buffer()]);
}

/** The reply in a complete message at the start of `data`; undefined for other messages. */
function parseReply(data: Buffer): (RawReply & { replySerial: number }) | undefined {
  const type = data[1];
  if (type !== TYPE_RETURN && type !== TYPE_ERROR) return undefined;
  const reply: RawReply & { replySerial: number } = { type: type === TYPE_RETURN ? 'return' : 'error', replySerial: 0 };
  const align = (p: number, n: number) => Math.ceil(p / n) * n;
  const end = 16 + data.readUInt32LE(12);
  for (let p = 16; p < end;) {
    p = align(p, 8);
    const code = data[p]!;
    const sig = String.fromCharCode(data[p + 2]!); // each header field holds one basic type
    p += 4; // code, signature length, signature, NUL
    if (sig === 'g') p += data[p]! + 2;
    else if (sig === 'u') {
      p = align(p, 4);
      if (code === HEADER.replySerial) reply.replySerial = data.readUInt32LE(p);
      p += 4;
    } else {
      p = align(p, 4);
      const len = data.readUInt32LE(p);
      if (code === HEADER.errorName) reply.errorName = data.toString('utf8', p + 4, p + 4 + len);
      p += 4 + len + 1;
    }
  }
  return reply;
}

export class RawBus {
  private serial = 0;
  private received = Buffer.alloc(0);
  private readonly replies = new Map<number, (reply: RawReply) => void>();

  private constructor(private readonly socket: Socket) {}

  /** Connects to a `unix:path=` address, authenticates, agrees on fd passing and says Hello. */
  static async connect(address: string): Promise<RawBus> {
    const path = /^unix:path=(.+)$/.exec(address)?.[1];
    if (!path) throw new Error(`RawBus speaks only unix:path= addresses, not ${address}`);
    const socket = createConnection(path);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const bus = new RawBus(socket);
    const uid = Buffer.from(String(process.getuid!())).toString('hex');
    socket.write(`\0AUTH EXTERNAL ${uid}\r\n`);
    await bus.line(/^OK /);
    socket.write('NEGOTIATE_UNIX_FD\r\n');
    await bus.line(/^AGREE_UNIX_FD/);
    socket.write('BEGIN\r\n');
    socket.on('data', (d: Buffer) => bus.onData(d));
    await bus.call({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'Hello',
      body: [],
    });
    return bus;
  }

  /** Sends the method call; resolves with the reply to it. */
  call(msg: Omit<RawMessage, 'kind'>): Promise<RawReply> {
    const serial = this.send({ ...msg, kind: 'call' });
    return new Promise((resolve) => this.replies.set(serial, resolve));
  }

  /** Sends the message without waiting; returns its serial. */
  send(msg: RawMessage): number {
    const serial = ++this.serial;
    this.socket.write(marshal(msg, serial));
    return serial;
  }

  close(): void {
    this.socket.destroy();
  }

  private line(expected: RegExp): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('data', (d: Buffer) => {
        const text = d.toString('latin1');
        if (expected.test(text)) resolve();
        else reject(new Error(`the bus answered ${JSON.stringify(text)}, expected ${String(expected)}`));
      });
    });
  }

  private onData(d: Buffer): void {
    this.received = Buffer.concat([this.received, d]);
    for (;;) {
      if (this.received.length < 16) return;
      const bodyStart = 16 + Math.ceil(this.received.readUInt32LE(12) / 8) * 8;
      const end = bodyStart + this.received.readUInt32LE(4);
      if (this.received.length < end) return;
      const reply = parseReply(this.received);
      this.received = this.received.subarray(end);
      if (!reply) continue;
      const { replySerial, ...rest } = reply;
      this.replies.get(replySerial)?.(rest);
      this.replies.delete(replySerial);
    }
  }
}
