// The bridge's data path as a standalone relay for the benchmark: a plain HTTP server whose
// WebSocket upgrades are spliced (src/web/bridge: handshake, connection, splice, the code the web
// runs) to a Unix socket target, as websockify --unix-target does. No TLS, no D-Bus: only the
// relay is measured.
//   node --import tsx bench/bridge/relay.ts PORT UNIX_TARGET
import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { checkHandshake, switchProtocols } from '../../src/web/bridge/handshake.js';
import { splice } from '../../src/web/bridge/splice.js';

const [port, target] = process.argv.slice(2);
if (!port || !target) throw new Error('usage: relay.ts PORT UNIX_TARGET');

const server = createServer((_req, res) => res.writeHead(426).end());
server.on('upgrade', (req, socket: Socket, head: Buffer) => {
  const ws = switchProtocols(socket, head, checkHandshake(req), 33 * 1024 * 1024);
  if (!ws) return;
  const sock = connect(target, () => splice(ws, sock));
  void ws.closed.then(() => sock.end());
  sock.once('close', () => ws.close(1000));
  sock.on('error', () => ws.terminate());
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
