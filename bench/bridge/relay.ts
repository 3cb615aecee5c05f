// The bridge's data path as a standalone relay for the benchmark: a plain WebSocket server
// whose connections are spliced (src/web/bridge/splice.ts, the code the web runs) to a Unix
// socket target, as websockify --unix-target does. No TLS, no D-Bus: only the relay is measured.
//   node --import tsx bench/bridge/relay.ts PORT UNIX_TARGET
import { connect } from 'node:net';
import { WebSocketServer } from 'ws';
import { splice } from '../../src/web/bridge/splice.js';

const [port, target] = process.argv.slice(2);
if (!port || !target) throw new Error('usage: relay.ts PORT UNIX_TARGET');

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: Number(port),
  perMessageDeflate: false,
  maxPayload: 33 * 1024 * 1024,
});
wss.on('connection', (ws) => {
  ws.pause();
  const sock = connect(target, () => splice(ws, sock));
  ws.once('close', () => sock.end());
  sock.once('close', () => ws.close());
  sock.on('error', () => ws.terminate());
});
wss.on('listening', () => process.stdout.write('ready\n'));
