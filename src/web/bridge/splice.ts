// Copies bytes between a WebSocket (binary frames) and a Unix socket, with back-pressure both
// ways so a slow side stalls the fast one instead of growing buffers:
//  - WS → socket: when more than the high-water mark waits in the socket's write buffer, stop
//    reading the WebSocket (ws.pause() stops reading its TCP socket) until the socket drains.
//  - socket → WS: count bytes handed to ws.send() whose write callback has not fired; above
//    the high-water mark stop reading the Unix socket until they fall below the low mark.
import type { Socket } from 'node:net';
import type { RawData, WebSocket } from 'ws';

export interface SpliceOptions {
  /** Bytes queued towards either side before the other side is paused. */
  highWaterBytes: number;
}

export const DEFAULT_SPLICE: SpliceOptions = { highWaterBytes: 1024 * 1024 };

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}

/**
 * Starts copying (resuming a paused WebSocket); ending either side is for the caller to handle.
 * A text frame closes the WebSocket (1003); `onTextFrame` lets the caller log that reason.
 */
export function splice(
  ws: WebSocket,
  sock: Socket,
  opts: SpliceOptions = DEFAULT_SPLICE,
  onTextFrame?: () => void,
): void {
  const lowWater = opts.highWaterBytes / 2;
  let waitingForDrain = false;

  ws.on('message', (data, isBinary) => {
    if (!isBinary) {
      onTextFrame?.();
      ws.close(1003, 'NBD travels in binary frames only');
      return;
    }
    sock.write(toBuffer(data));
    // pause on our own mark, not write()'s 16 KiB one: pausing per frame would throttle the copy
    if (sock.writableLength >= opts.highWaterBytes && !waitingForDrain) {
      waitingForDrain = true;
      ws.pause();
      sock.once('drain', () => {
        waitingForDrain = false;
        ws.resume();
      });
    }
  });

  let queued = 0;
  sock.on('data', (chunk: Buffer) => {
    queued += chunk.length;
    ws.send(chunk, { binary: true }, () => {
      queued -= chunk.length;
      if (queued <= lowWater && sock.isPaused()) sock.resume();
    });
    if (queued >= opts.highWaterBytes) sock.pause();
  });
  ws.resume();
}
