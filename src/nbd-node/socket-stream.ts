// ByteStream over a Node socket (unix or TCP).
import net from 'node:net';
import type { ByteStream } from '../nbd/stream.js';
import { readIntoBuffer } from '../net/read-buffer.js';

/** After close(), a peer that does not hang up within this time is cut off. */
const CLOSE_GRACE_MS = 5000;
/**
 * write() reports "full" above this many queued bytes. Node's own mark (16 KiB) is below one
 * typical read reply, which would stop the server after every reply until the socket drained
 * and leave the client idle. 512 KiB (two 256 KiB replies, on top of what the kernel's socket
 * buffer holds) keeps a local pipe full: Node's 'drain' comes when the queue is empty, while the
 * kernel still has a reply to send. 2 MiB was no faster and held `vmedia nbd serve` 3 MiB above
 * its 64 MiB budget with 4 connections.
 */
const WRITE_HIGH_WATER = 512 * 1024;

/**
 * Each connection we open reads into one buffer of this size, reused for every read (net's
 * `onread`): a fresh Buffer per socket read was most of the daemon's garbage, and its collection
 * most of the CPU per byte of the export backend and the read-ahead (issue 15).
 */
const READ_BUFFER_BYTES = 256 * 1024;

/**
 * An accepted connection reads into one buffer of this size too (src/net/read-buffer.ts): a
 * Buffer, a Readable.push and a 'data' event per request were part of the export backend's CPU
 * per byte. Requests are small; a write's payload takes a few reads.
 */
const ACCEPTED_READ_BUFFER_BYTES = 64 * 1024;

/** Where a socket opened with `onread` delivers its reads, once the stream has a consumer. */
interface ReusedReadBuffer {
  deliver(cb: (data: Uint8Array) => void): void;
  /** The consumer's choice of memory for the next read (ByteStream.readTarget). */
  target(pick: () => Uint8Array | undefined): void;
}

/**
 * ByteStream over a socket. Data is delivered from one reused read buffer: for a socket we
 * opened through `onread` (`reused`), for one a server accepted through readIntoBuffer (Node's
 * 'data' events on a Node without it). Either way a consumer reads each chunk during onData.
 */
export function socketStream(sock: net.Socket, reused?: ReusedReadBuffer): ByteStream {
  let error: Error | undefined;
  let closed = false;
  const closeCallbacks: Array<(err?: Error) => void> = [];
  sock.on('error', (err) => {
    error = err;
  });
  sock.once('close', () => {
    closed = true;
    for (const cb of closeCallbacks) cb(error);
  });
  sock.setNoDelay(true); // replies are whole messages: do not wait to coalesce them
  let corked = false;
  const uncork = () => {
    corked = false;
    sock.uncork();
  };
  return {
    write: (data, onWritten) => {
      if (sock.destroyed || sock.writableEnded) return true;
      // Writes of one loop turn (the requests of one socket read, the replies that completed
      // together) leave in one writev at the check phase: a syscall per message was most of the
      // export backend's system time
      if (!corked) {
        corked = true;
        sock.cork();
        setImmediate(uncork);
      }
      // Node calls back once the bytes are in the kernel (or the socket failed): data is free again
      sock.write(data, onWritten && (() => onWritten()));
      // above Node's mark, so Node has armed 'drain' for when the queue empties
      return sock.writableLength <= WRITE_HIGH_WATER;
    },
    onData: (cb) => {
      if (reused) reused.deliver(cb);
      else if (!readIntoBuffer(sock, Buffer.allocUnsafe(ACCEPTED_READ_BUFFER_BYTES), cb)) sock.on('data', cb);
    },
    onDrain: (cb) => {
      sock.on('drain', cb);
    },
    ...(reused && { readTarget: (pick: () => Uint8Array | undefined) => reused.target(pick) }),
    onClose: (cb) => {
      if (closed) queueMicrotask(() => cb(error));
      else closeCallbacks.push(cb);
    },
    pause: () => {
      sock.pause();
    },
    resume: () => {
      sock.resume();
    },
    close: () => {
      if (sock.destroyed) return;
      sock.end();
      const cutOff = setTimeout(() => sock.destroy(), CLOSE_GRACE_MS).unref();
      // a pending timer holds the socket, and with it its read buffer, for the whole grace time
      sock.once('close', () => clearTimeout(cutOff));
    },
  };
}

/**
 * Connects with one reused read buffer, or the consumer's memory when it names some
 * (readTarget: Node asks for the next read's buffer after each read); reads before the stream
 * has a consumer are kept as copies.
 */
function connectReusingBuffer(opts: net.NetConnectOpts, what: string): Promise<ByteStream> {
  let consumer: ((data: Uint8Array) => void) | undefined;
  let pick: (() => Uint8Array | undefined) | undefined;
  const early: Uint8Array[] = [];
  const shared = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  const sock = net.connect({
    ...opts,
    onread: {
      buffer: () => (consumer && pick?.()) || shared,
      callback: (bytes: number, buf: Uint8Array) => {
        if (consumer) consumer(buf.subarray(0, bytes));
        else early.push(buf.slice(0, bytes));
        return true;
      },
    },
  });
  const reused: ReusedReadBuffer = {
    deliver(cb) {
      consumer = cb;
      for (const data of early.splice(0)) cb(data);
    },
    target(p) {
      pick = p;
    },
  };
  return new Promise((resolve, reject) => {
    sock.once('connect', () => {
      sock.removeAllListeners('error');
      resolve(socketStream(sock, reused));
    });
    sock.once('error', (err) =>
      reject(new Error(`cannot connect to NBD server at ${what}: ${err.message}`, { cause: err })),
    );
  });
}

export function connectUnix(path: string): Promise<ByteStream> {
  return connectReusingBuffer({ path }, path);
}

export function connectTcp(port: number, host = '127.0.0.1'): Promise<ByteStream> {
  return connectReusingBuffer({ port, host }, `${host}:${port}`);
}
