// The bridge's data path as a standalone relay for the benchmark: an HTTP (or, with --tls, an
// HTTPS) server whose WebSocket upgrades are spliced (src/web/bridge: handshake, connection,
// splice, the code the web runs) to a Unix socket target, as websockify --unix-target does. No
// D-Bus: only the relay (and TLS, as the web serves it) is measured.
//   node --import tsx bench/bridge/relay.ts PORT UNIX_TARGET [--tls CERT KEY]
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { checkHandshake, switchProtocols } from '../../src/web/bridge/handshake.js';
import { splice } from '../../src/web/bridge/splice.js';

const [port, target, tlsFlag, cert, key] = process.argv.slice(2);
if (!port || !target || (tlsFlag !== undefined && (tlsFlag !== '--tls' || !cert || !key)))
  throw new Error('usage: relay.ts PORT UNIX_TARGET [--tls CERT KEY]');

const refuse = (_req: IncomingMessage, res: { writeHead(s: number): { end(): void } }) => res.writeHead(426).end();
const server =
  tlsFlag === undefined
    ? createHttpServer(refuse)
    : createHttpsServer({ cert: readFileSync(cert!), key: readFileSync(key!) }, refuse);
server.on('upgrade', (req, socket: Socket, head: Buffer) => {
  const ws = switchProtocols(socket, head, checkHandshake(req), 33 * 1024 * 1024);
  if (!ws) return;
  const sock = connect(target, () => splice(ws, sock));
  void ws.closed.then(() => sock.end());
  sock.once('close', () => ws.close(1000));
  sock.on('error', () => ws.terminate());
});
server.listen(Number(port), '127.0.0.1', () => process.stdout.write('ready\n'));
// exit normally on SIGTERM so that `node --cpu-prof` writes its profile
process.on('SIGTERM', () => process.exit(0));
