// Bench B's Node reference: the least a Node process between two sockets does, with Node's own
// streams and default flags. Each connection accepted on LISTEN gets its own connection to
// UPSTREAM, piped both ways; no protocol, no counting, no limits.
//   node bench/paths/node-relay.mjs LISTEN UPSTREAM
import net from 'node:net';
import process from 'node:process';

const [listen, upstream] = process.argv.slice(2);
if (!listen || !upstream) {
  process.stderr.write('usage: node node-relay.mjs LISTEN-SOCKET UPSTREAM-SOCKET\n');
  process.exit(2);
}
net
  .createServer((client) => {
    const server = net.connect(upstream);
    client.pipe(server).on('error', () => client.destroy());
    server.pipe(client).on('error', () => server.destroy());
    client.on('close', () => server.destroy());
    server.on('close', () => client.destroy());
  })
  .listen(listen);
process.on('SIGTERM', () => process.exit(0));
