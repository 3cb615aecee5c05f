// One bridge client's WebSocket after the handshake: frames in (frames.ts, payload handed on as
// views of one reused read buffer, read-buffer.ts), frames out (header and data written
// together, never copied), the close handshake, pings. Starts paused: nothing is decoded until
// receive() names where the bytes go.
import type { Socket } from 'node:net';
import { FrameDecoder, OPCODE, PROTOCOL_CLOSE, serverFrameHeader } from './frames.js';
import { readIntoBuffer } from '../../net/read-buffer.js';

/** How the connection ended: the peer's close code (1005: none given, 1006: no close frame). */
export interface Closed {
  code: number;
  reason: string;
  /** Set when we closed it because the client broke the protocol or a limit. */
  violation?: string;
}

/** How long a close we sent waits for the client's before the TCP connection is dropped. */
const CLOSE_TIMEOUT_MS = 10_000;
/** One TLS record is at most 16 KiB; a plain socket's reads (tests, the bench relay) fill more. */
const READ_BUFFER_BYTES = 64 * 1024;
const NO_STATUS = 1005;
const ABNORMAL = 1006;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export class BridgeSocket {
  /** Resolves once, when the TCP connection is gone. */
  readonly closed: Promise<Closed>;
  private readonly decoder: FrameDecoder;
  private closeTimer?: NodeJS.Timeout;
  private onData?: (view: Uint8Array) => void;
  private closeSent = false;
  private received?: { code: number; reason: string };
  private violation?: string;
  private gone = false;
  private paused = true;
  /** Bytes read while paused (copies): decoded in order once reading resumes. */
  private readonly held: Buffer[] = [];

  constructor(
    private readonly socket: Socket,
    head: Buffer,
    maxMessageBytes: number,
  ) {
    this.decoder = new FrameDecoder(
      {
        data: (view) => this.onData?.(view),
        control: (opcode, payload) => this.control(opcode, payload),
        refuse: (code, reason) => {
          // the stream is broken: nothing after this frame can be trusted
          this.violation = reason;
          this.close(code, reason);
          socket.end();
        },
      },
      maxMessageBytes,
    );
    socket.setTimeout(0);
    socket.setNoDelay(true);
    // the bytes after the upgrade request, then every read, in order (see read())
    if (head.length > 0) this.held.push(head);
    const reused = readIntoBuffer(socket, Buffer.allocUnsafeSlow(READ_BUFFER_BYTES), (bytes) => this.read(bytes));
    if (!reused) socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.pause();
    socket.on('error', () => socket.destroy());
    // the HTTP server's sockets allow half-open connections: the client's FIN alone ends nothing
    socket.on('end', () => socket.end());
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.gone = true;
        clearTimeout(this.closeTimer);
        resolve({
          code: this.received?.code ?? ABNORMAL,
          reason: this.received?.reason ?? '',
          ...(this.violation === undefined ? {} : { violation: this.violation }),
        });
      }),
    );
  }

  /** Open: neither side has started closing. */
  get isOpen(): boolean {
    return !this.closeSent && !this.received && !this.gone;
  }

  /** Bytes written towards the client that the socket has not sent yet. */
  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  /** Binary payload bytes go to `onData` from now on (the view is valid during the call). */
  receive(onData: (view: Uint8Array) => void): void {
    this.onData = onData;
    this.resume();
  }

  pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.paused || !this.onData) return;
    this.startReading();
  }

  /** `cb` once the client-bound buffer has drained. */
  onceDrained(cb: () => void): void {
    this.socket.once('drain', cb);
  }

  /** Sends `data` as one binary frame; false when the socket's buffer is above its mark. */
  send(data: Uint8Array): boolean {
    if (!this.isOpen) return true;
    return this.writeFrame(OPCODE.binary, data);
  }

  /** Starts the close handshake (nothing more is sent); the connection drops if the client stalls. */
  close(code: number, reason = ''): void {
    if (this.closeSent || this.gone) return;
    const text = Buffer.from(reason);
    const payload = Buffer.allocUnsafe(2 + text.length);
    payload.writeUInt16BE(code, 0);
    text.copy(payload, 2);
    this.writeFrame(OPCODE.close, payload);
    this.closeSent = true;
    if (this.received) {
      this.socket.end();
      return;
    }
    this.closeTimer = setTimeout(() => this.socket.destroy(), CLOSE_TIMEOUT_MS);
    // read on (data frames dropped) to see the client's close frame, even before receive()
    this.onData = undefined;
    this.startReading();
  }

  /** Drops the connection without a close handshake. */
  terminate(): void {
    this.socket.destroy();
  }

  /** A read from the socket: valid during the call only (the socket reads into one buffer). */
  private read(bytes: Buffer): void {
    if (this.paused) this.held.push(Buffer.from(bytes));
    else this.decoder.push(bytes);
  }

  /** Decodes what was held back, then reads on (unless decoding paused it again). */
  private startReading(): void {
    this.paused = false;
    while (this.held.length > 0 && !this.paused) this.decoder.push(this.held.shift()!);
    if (!this.paused) this.socket.resume();
  }

  private writeFrame(opcode: number, data: Uint8Array): boolean {
    const { socket } = this;
    socket.cork();
    socket.write(serverFrameHeader(opcode, data.length));
    const ok = socket.write(data);
    socket.uncork();
    return ok;
  }

  private control(opcode: number, payload: Uint8Array): void {
    if (opcode === OPCODE.ping) {
      if (!this.closeSent) this.writeFrame(OPCODE.pong, payload);
      return;
    }
    if (opcode !== OPCODE.close || this.received) return;
    const parsed = parseClose(payload);
    if (typeof parsed === 'string') {
      this.violation = parsed;
      this.close(PROTOCOL_CLOSE.protocolError, parsed);
      this.socket.end();
      return;
    }
    this.received = parsed;
    // the client started it: answer with its code; either way the server closes TCP first
    if (this.closeSent) this.socket.end();
    else this.close(parsed.code === NO_STATUS ? 1000 : parsed.code);
  }
}

/** A close frame's code and reason, or why it is malformed (RFC 6455 §5.5.1, §7.4). */
function parseClose(payload: Uint8Array): { code: number; reason: string } | string {
  if (payload.length === 0) return { code: NO_STATUS, reason: '' };
  if (payload.length === 1) return 'a close frame with a 1-byte payload';
  const code = (payload[0]! << 8) | payload[1]!;
  const valid = (code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) || (code >= 3000 && code <= 4999);
  if (!valid) return `invalid close code ${code}`;
  try {
    return { code, reason: utf8.decode(payload.subarray(2)) };
  } catch {
    return 'a close reason that is not UTF-8';
  }
}
