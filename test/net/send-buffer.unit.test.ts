// The sockets that carry image data out of a process get a 2 MiB send buffer (src/net/send-buffer.ts):
// past net.core.wmem_max with CAP_NET_ADMIN (the daemon's unit has it), up to it without (the
// web's). Checked on real sockets, as the kernel reports them: getsockopt, and `ss` for the
// socket the NBD listener accepted.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { NbdServer } from '../../src/nbd/server.js';
import { listenNbd } from '../../src/nbd-node/listen.js';
import {
  DATA_SEND_BUFFER_BYTES,
  enlargeSendBuffer,
  sendBufferAddon,
  sendBufferBytes,
} from '../../src/net/send-buffer.js';
import { memoryBackend } from '../nbd/helpers.js';
import { acceptedPair } from './helpers/unix-pair.js';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'send-buffer-'));
after(() => rmSync(dir, { recursive: true, force: true }));
/** What the kernel reports for a request of DATA_SEND_BUFFER_BYTES: twice it (its bookkeeping). */
const ENLARGED = 2 * DATA_SEND_BUFFER_BYTES;
const CAP_NET_ADMIN = 12;
const WMEM_MAX = Number(readFileSync('/proc/sys/net/core/wmem_max', 'utf8'));

function hasNetAdmin(): boolean {
  const eff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;
  return (BigInt(`0x${eff}`) >> BigInt(CAP_NET_ADMIN)) & 1n ? true : false;
}

test('the sockopt addon loads (scripts/setup.sh installs it)', () => {
  assert.equal(sendBufferAddon, true, 'node_modules/sockopt did not load: run scripts/setup.sh');
});

test('an accepted socket gets 2 MiB: past wmem_max with CAP_NET_ADMIN', async (t) => {
  if (!hasNetAdmin()) assert.fail('this test runs as root (CAP_NET_ADMIN), as npm test does');
  const pair = await acceptedPair(path.join(dir, 'cap.sock'));
  t.after(() => pair.close());
  const before = sendBufferBytes(pair.accepted)!;
  assert.ok(before < ENLARGED, `the default is ${before}`);
  assert.equal(enlargeSendBuffer(pair.accepted), ENLARGED);
  assert.equal(sendBufferBytes(pair.accepted), ENLARGED);
  // asked for twice wmem_max, as the unprivileged child below: this process passes the ceiling
  assert.equal(enlargeSendBuffer(pair.accepted, 2 * WMEM_MAX), 4 * WMEM_MAX);
});

test('without CAP_NET_ADMIN (the web) the buffer grows up to net.core.wmem_max', async () => {
  // asked for twice wmem_max: only a process that may pass the limit gets it
  const script = fileURLToPath(new URL('helpers/enlarge-unprivileged.ts', import.meta.url));
  // the same process as the web's unit would be: no capabilities at all
  const { stdout } = await run('setpriv', [
    '--inh-caps=-all',
    '--bounding-set=-all',
    process.execPath,
    '--import',
    'tsx',
    script,
    path.join(dir, 'nocap.sock'),
    String(2 * WMEM_MAX),
  ]);
  assert.equal(Number(stdout.trim()), 2 * WMEM_MAX); // the kernel's double of wmem_max
});

test("the image's sysctl.d ceiling (systemd/vmedia.sysctl.conf) is what the web asks for", () => {
  const conf = readFileSync(fileURLToPath(new URL('../../systemd/vmedia.sysctl.conf', import.meta.url)), 'utf8');
  const ceiling = /^net\.core\.wmem_max\s*=\s*(\d+)\s*$/m.exec(conf)?.[1];
  assert.equal(Number(ceiling), DATA_SEND_BUFFER_BYTES);
});

test("the NBD listener enlarges each connection it accepts (the kernel's view, `ss`)", async (t) => {
  const socketPath = path.join(dir, 'nbd.sock');
  const listener = await listenNbd(new NbdServer({ exports: () => memoryBackend(new Uint8Array(4096)) }), {
    socket: socketPath,
  });
  const client = net.connect(socketPath);
  t.after(async () => {
    client.destroy();
    await listener.close();
  });
  await new Promise((r) => client.once('data', r)); // the server's greeting: it has accepted
  const { stdout } = await run('ss', ['-xmH', 'src', socketPath]);
  // the listener's side of the connection is the one bound to the path
  const tb = /tb(\d+)/.exec(stdout)?.[1];
  assert.equal(Number(tb), ENLARGED, stdout);
});
