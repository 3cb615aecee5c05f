// Run without capabilities by send-buffer.unit.test.ts: accepts one connection on the socket
// path given, enlarges its send buffer to the bytes given and prints what the kernel then reports.
import { enlargeSendBuffer } from '../../../src/net/send-buffer.js';
import { acceptedPair } from './unix-pair.js';

const [socketPath, bytes] = process.argv.slice(2) as [string, string];
const pair = await acceptedPair(socketPath);
process.stdout.write(`${enlargeSendBuffer(pair.accepted, Number(bytes)) ?? 'unset'}\n`);
pair.close();
