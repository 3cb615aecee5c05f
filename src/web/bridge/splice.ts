// Copies bytes between a bridge WebSocket and a Unix socket, with back-pressure both ways so a
// slow side stalls the fast one instead of growing buffers:
//  - WS → socket: the payload arrives as views of the WebSocket's one read buffer (frames.ts,
//    read-buffer.ts), copied into a staging buffer that leaves in one write per event-loop turn
//    (slot-writer.ts). Above the high-water mark of bytes not yet sent, stop reading the
//    WebSocket until the socket drains.
//  - socket → WS: each read goes out as one binary frame; above the high-water mark in the
//    WebSocket's write buffer, stop reading the Unix socket until that buffer drains.
import type { Socket } from 'node:net';
import type { BridgeSocket } from './connection.js';
import { SlotWriter } from './slot-writer.js';

export interface SpliceOptions {
  /** Bytes queued towards either side before the other side is paused. */
  highWaterBytes: number;
}

export const DEFAULT_SPLICE: SpliceOptions = { highWaterBytes: 1024 * 1024 };

/** Starts copying (the WebSocket starts reading); ending either side is for the caller to handle. */
export function splice(ws: BridgeSocket, sock: Socket, opts: SpliceOptions = DEFAULT_SPLICE): void {
  const writer = new SlotWriter(sock);
  let waitingForSocket = false;
  ws.receive((view) => {
    writer.write(view);
    if (writer.pendingBytes >= opts.highWaterBytes && !waitingForSocket) {
      waitingForSocket = true;
      ws.pause();
      writer.onceDrained(() => {
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
