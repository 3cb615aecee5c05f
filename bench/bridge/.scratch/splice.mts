import { WebSocketServer, WebSocket } from 'ws';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { splice } from '/work/main/src/web/bridge/splice.ts';
import { rmSync } from 'node:fs';
const sockPath = '/tmp/vm-smoke/s.sock'; rmSync(sockPath, { force: true });
const wss = new WebSocketServer({ port: 0 });
await new Promise((r) => wss.once('listening', r));
const unixServer = net.createServer();
await new Promise<void>((r) => unixServer.listen(sockPath, () => r()));
const N = 64 * 1024 * 1024;
const data = randomBytes(N);
wss.on('connection', (ws) => {
  ws.pause();
  unixServer.once('connection', (c) => splice(ws, c));
});
const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as any).port}`);
await new Promise((r) => client.once('open', r));
const c = net.connect(sockPath);
// WS -> unix
const h1 = createHash('sha256'); let got1 = 0;
c.on('data', (d) => { h1.update(d); got1 += d.length; });
// unix -> WS
const h2 = createHash('sha256'); let got2 = 0;
client.on('message', (d: Buffer) => { h2.update(d); got2 += d.length; });
for (let off = 0; off < N; off += 256 * 1024) client.send(data.subarray(off, off + 256 * 1024));
c.write(data);
const t = Date.now();
while ((got1 < N || got2 < N) && Date.now() - t < 20000) await new Promise((r) => setTimeout(r, 50));
const want = createHash('sha256').update(data).digest('hex');
console.log(got1, got2, h1.digest('hex') === want, h2.digest('hex') === want, Date.now() - t, 'ms');
process.exit(0);
