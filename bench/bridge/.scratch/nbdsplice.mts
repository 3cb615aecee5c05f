import { WebSocketServer, WebSocket } from 'ws';
import net from 'node:net';
import { exec } from 'node:child_process'; import { promisify } from 'node:util'; const ex = promisify(exec);
import { splice } from '/work/main/src/web/bridge/splice.ts';
import { NbdServer } from '/work/main/src/nbd/server.ts';
import { webSocketStream } from '/work/main/src/nbd/websocket-stream.ts';
import { openFileBackend } from '/work/main/src/nbd-node/file-backend.ts';
import { rmSync } from 'node:fs';
const sockPath = '/tmp/vm-smoke/s.sock'; rmSync(sockPath, { force: true });
const wss = new WebSocketServer({ port: 0 });
await new Promise((r) => wss.once('listening', r));
const unixServer = net.createServer();
await new Promise<void>((r) => unixServer.listen(sockPath, () => r()));
wss.on('connection', (ws) => {
  ws.pause();
  unixServer.once('connection', (c) => splice(ws, c));
});
const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as any).port}`);
await new Promise((r) => client.once('open', r));
const backend = await openFileBackend('/tmp/vm-smoke/img', { readOnly: true });
void new NbdServer({ exports: () => backend }).serve(webSocketStream(client as any));
const t = Date.now();
try { console.log((await ex(`timeout 30 nbdcopy 'nbd+unix:///?socket=${sockPath}' - | sha256sum; sha256sum /tmp/vm-smoke/img`)).stdout); } catch (e) { console.log('fail', String(e)); }
console.log(Date.now() - t, 'ms');
process.exit(0);
