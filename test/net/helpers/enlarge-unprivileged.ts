// Run without capabilities by send-buffer.unit.test.ts: accepts one connection on the socket
// path given, enlarges its send buffer to the bytes given and prints what the kernel then reports.
import net from 'node:net';
import { enlargeSendBuffer } from '../../../src/net/send-buffer.js';

const [socketPath, bytes] = process.argv.slice(2) as [string, string];
const server = net.createServer((accepted) => {
  process.stdout.write(`${enlargeSendBuffer(accepted, Number(bytes)) ?? 'unset'}\n`);
  accepted.destroy();
  client.destroy();
  server.close();
});
await new Promise<void>((r) => server.listen(socketPath, r));
const client = net.connect(socketPath);
