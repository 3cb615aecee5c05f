import { startStack } from '/work/main/test/helpers/stack.ts';
import WebSocket from 'ws';
import { NbdServer } from '/work/main/src/nbd/server.ts';
import { webSocketStream } from '/work/main/src/nbd/websocket-stream.ts';
import { openFileBackend } from '/work/main/src/nbd-node/file-backend.ts';
import { exec } from 'node:child_process'; import { promisify } from 'node:util'; const ex = promisify(exec);
await ex('head -c 67108864 /dev/urandom > /tmp/vm-smoke/img');
const s = await startStack();
try {
  const backend = await openFileBackend('/tmp/vm-smoke/img', { readOnly: true });
  const auth = 'Basic ' + Buffer.from(`${s.admin.user}:${s.admin.password}`).toString('base64');
  const ws = new WebSocket(`wss://127.0.0.1:${s.port}/nbd/0`, { ca: s.ca, headers: { Authorization: auth } });
  ws.on('close', (c, r) => console.log('ws closed', c, r.toString()));
  ws.on('unexpected-response', (_q, res) => console.log('unexpected', res.statusCode));
  await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
  console.log('open');
  const server = new NbdServer({ exports: () => backend });
  void server.serve(webSocketStream(ws as any));
  for (let i = 0; i < 50; i++) {
    const r = await s.request('/redfish/v1/Managers/bmc/VirtualMedia/Slot_0', { auth: s.admin });
    if (r.json.Inserted) { console.log('inserted after', i); break; }
    await new Promise((r) => setTimeout(r, 200));
  }
  const t = Date.now();
  console.log((await ex(`nbdcopy 'nbd+unix:///?socket=${s.slots[0].exportSocket}' - | sha256sum; sha256sum /tmp/vm-smoke/img`)).stdout, Date.now() - t, 'ms');
  ws.close();
  await new Promise((r) => setTimeout(r, 1500));
  const r = await s.request('/redfish/v1/Managers/bmc/VirtualMedia/Slot_0', { auth: s.admin });
  console.log('after close', r.json.Inserted);
} finally {
  console.log(s.webOutput().slice(-3000));
  console.log(s.daemon.output().slice(-3000));
  await s.stop();
}
