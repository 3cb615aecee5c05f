// Copies bytes between a bridge WebSocket and a Unix socket, with back-pressure both ways so a
// slow side stalls the fast one instead of growing buffers:
//  - WS → socket: the payload arrives as views of each TLS read (frames.ts), written as they are;
//    the socket stays corked until the event loop's check phase, so every read of one loop turn
//    leaves in one writev. Above the high-water mark in the socket's write buffer, stop reading
//    the WebSocket until the socket drains.
//  - socket → WS: each read goes out as one binary frame; above the high-water mark in the
//    WebSocket's write buffer, stop reading the Unix socket until that buffer drains.
import type { Socket } from 'node:net';
import type { BridgeSocket } from './connection.js';

export interface SpliceOptions {
  /** Bytes queued towards either side before the other side is paused. */
  highWaterBytes: number;
}

export const DEFAULT_SPLICE: SpliceOptions = { highWaterBytes: 1024 * 1024 };

/** Starts copying (the WebSocket starts reading); ending either side is for the caller to handle. */
export function splice(ws: BridgeSocket, sock: Socket, opts: SpliceOptions = DEFAULT_SPLICE): void {
  let corked = false;
  let waitingForSocket = false;
  const uncork = () => {
    corked = false;
    sock.uncork();
  };
  ws.receive((view) => {
    if (!corked) {
      corked = true;
      sock.cork();
      setImmediate(uncork);
    }
    sock.write(view);
    if (sock.writableLength >= opts.highWaterBytes && !waitingForSocket) {
      waitingForSocket = true;
      ws.pause();
      sock.once('drain', () => {
        waitingForSocket = false;
        ws.resume();
      });
    }
  });

  let waitingForWs = false;
  sock.on('data', (chunk: Buffer) => {
    ws.send(chunk);
    if (ws.bufferedBytes >= opts.highWaterBytes && !waitingForWs) {
      waitingForWs = true;
      sock.pause();
      ws.onceDrained(() => {
        waitingForWs = false;
        sock.resume();
      });
    }
  });
}
