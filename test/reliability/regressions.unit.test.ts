// The two NBD bugs the reliability suite found, pinned at unit level (the suite itself shows them
// end to end: faults.test.ts, the stalled browser; concurrency.test.ts, a file that took 25 s
// longer because an in-test browser's handshake waited for its timeout).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NbdClient } from '../../src/nbd/client.js';
import { NbdServer } from '../../src/nbd/server.js';
import { webSocketStream, type WebSocketLike } from '../../src/nbd/websocket-stream.js';
import { memoryBackend, memoryStreamPair } from '../nbd/helpers.js';
import { waitFor } from '../helpers/wait.js';

test('a stream made on a WebSocket that has already closed reports the close', async () => {
  const closedSocket: WebSocketLike = {
    binaryType: 'blob',
    readyState: 3, // CLOSED: its 'close' event is history
    bufferedAmount: 0,
    send: () => undefined,
    close: () => undefined,
    addEventListener: () => undefined,
  };
  let reported = false;
  webSocketStream(closedSocket).onClose(() => {
    reported = true;
  });
  await waitFor('the stream to report the close', () => reported, { timeoutMs: 1000 });
});

test('disconnect does not wait for a request that timed out on a stalled server', async () => {
  const stalled = { ...memoryBackend(new Uint8Array(4096)), read: () => new Promise<Uint8Array>(() => undefined) };
  const [clientEnd, serverEnd] = memoryStreamPair();
  void new NbdServer({ exports: () => stalled }).serve(serverEnd);
  const client = await NbdClient.connect(clientEnd, { timeoutMs: 200 });
  await assert.rejects(client.read(0, 512), /no reply within 200 ms/);
  const started = performance.now();
  await Promise.race([
    client.disconnect(),
    new Promise((_, reject) => setTimeout(() => reject(new Error('disconnect still waiting after 2 s')), 2000).unref()),
  ]);
  assert.ok(performance.now() - started < 2000);
});
