// ByteStream over a Node socket (unix or TCP).
import net from 'node:net';
import type { ByteStream } from '../nbd/stream.js';

/** After close(), a peer that does not hang up within this time is cut off. */
const CLOSE_GRACE_MS = 5000;
/**
 * write() reports "full" above this many queued bytes. Node's own mark (16 KiB) is below one
 * typical read reply, which would stop the server after every reply until the socket drained
 * and leave the client idle; a few MiB keep the pipe full and memory per connection bounded.
 */
const WRITE_HIGH_WATER = 2 * 1024 * 1024;

export function socketStream(sock: net.Socket): ByteStream {
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
  return {
    write: (data, onWritten) => {
      if (sock.destroyed || sock.writableEnded) return true;
      // Node calls back once the bytes are in the kernel (or the socket failed): data is free again
      sock.write(data, onWritten && (() => onWritten()));
      // above Node's mark, so Node has armed 'drain' for when the queue empties
      return sock.writableLength <= WRITE_HIGH_WATER;
    },
    onData: (cb) => {
      sock.on('data', cb);
    },
    onDrain: (cb) => {
      sock.on('drain', cb);
    },
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
      setTimeout(() => sock.destroy(), CLOSE_GRACE_MS).unref();
    },
  };
}

function connected(sock: net.Socket, what: string): Promise<ByteStream> {
  return new Promise((resolve, reject) => {
    sock.once('connect', () => {
      sock.removeAllListeners('error');
      resolve(socketStream(sock));
    });
    sock.once('error', (err) =>
      reject(new Error(`cannot connect to NBD server at ${what}: ${err.message}`, { cause: err })),
    );
  });
}

export function connectUnix(path: string): Promise<ByteStream> {
  return connected(net.connect({ path }), path);
}

export function connectTcp(port: number, host = '127.0.0.1'): Promise<ByteStream> {
  return connected(net.connect({ port, host }), `${host}:${port}`);
}
