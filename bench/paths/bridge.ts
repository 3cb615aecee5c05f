// Path C: a `ws` client serving the image as NBD over wss://…/nbd/0 (test/web/ws-nbd-server.ts,
// the shared src/nbd server), `vmedia web`'s bridge, the daemon's export backend, nbdcopy
// reading the slot's ExportSocket. The web's CPU per byte is the figure (issue 15: ≤ 2.0
// CPU-s/GiB). Variants, each its own stack (the production bundle, as a BMC runs it):
//  - AES-GCM with AES-NI (this machine's default choice);
//  - AES-GCM with AES-NI hidden from OpenSSL (OPENSSL_ia32cap): a BMC core without AES instructions;
//  - ChaCha20-Poly1305 with AES-NI hidden (what --tls-cipher-preference auto picks there);
//  - AES-GCM with AES-NI but without the bufferutil addon (WS_NO_BUFFER_UTIL=1: unmasking in JS).
import { connect } from 'node:net';
import { startStack, type Stack } from '../../test/helpers/stack.js';
import { basicAuth, connectWsNbdServer } from '../../test/web/ws-nbd-server.js';
import { waitFor } from '../../test/helpers/wait.js';
import { unitMemoryEnvironment } from '../memory/unit-node-options.js';
import {
  cachedRandomImage,
  compiledCli,
  interleaved,
  measureTransfer,
  nbdcopyToNull,
  type PathBenchmark,
} from './measure.js';

/**
 * OpenSSL's capability mask without AES-NI and PCLMULQDQ (the GCM multiply). The second field,
 * `~0`, keeps the extended capability word (AVX2, AVX-512): without it OpenSSL zeroes that word,
 * which also took ChaCha20-Poly1305 from 4.1 to 1.1 GB/s (`openssl speed`) in sessions 6–9.
 */
const NO_AES_NI = { OPENSSL_ia32cap: '~0x200000200000000:~0' };
const AES_FIRST = 'TLS_AES_128_GCM_SHA256';
const CHACHA20 = 'TLS_CHACHA20_POLY1305_SHA256';

interface Variant {
  name: string;
  webEnv: Record<string, string>;
  /** The TLS 1.3 suite the client offers (the server's order is measured in test/web). */
  cipher: string;
}

const VARIANTS: Variant[] = [
  { name: 'AES-128-GCM, AES-NI', webEnv: {}, cipher: AES_FIRST },
  { name: 'AES-128-GCM, no AES-NI', webEnv: NO_AES_NI, cipher: AES_FIRST },
  { name: 'ChaCha20-Poly1305, no AES-NI', webEnv: NO_AES_NI, cipher: CHACHA20 },
  { name: 'AES-128-GCM, AES-NI, no bufferutil', webEnv: { WS_NO_BUFFER_UTIL: '1' }, cipher: AES_FIRST },
];
const REFERENCE = VARIANTS[0]!.name;
const CONNECTIONS = 4;

/** Resolves once the daemon serves the slot's export (after Mount) on the Unix socket `socket`. */
export function exportServed(socket: string): Promise<void> {
  return waitFor('the export after Mount', () => accepts(socket), { timeoutMs: 60_000, intervalMs: 20 }).then(
    () => undefined,
  );
}

function accepts(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(socket);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

const benchmark: PathBenchmark = {
  title: 'ws client → `vmedia web` bridge (TLS) → daemon export → nbdcopy; TLS ciphers with/without AES-NI, bufferutil',
  async run({ dir, sizeMiB, rounds }) {
    const bytes = sizeMiB * 1024 * 1024;
    const image = await cachedRandomImage(dir, bytes);
    process.env.VMEDIA_TEST_ENTRY = await compiledCli();
    // the daemon and the web run with the units' memory environment, as on a BMC (the stack passes it on)
    Object.assign(process.env, unitMemoryEnvironment());
    const stacks = new Map<string, Stack>();
    const stackFor = async (v: Variant) => {
      let stack = stacks.get(v.name);
      if (!stack) {
        stack = await startStack({ webEnv: { VMEDIA_LOG_LEVEL: 'warn', ...v.webEnv }, startTimeoutMs: 60_000 });
        stacks.set(v.name, stack);
      }
      return stack;
    };
    const once = (v: Variant) => async () => {
      const stack = await stackFor(v);
      const slot = stack.slots[0]!;
      const client = await connectWsNbdServer(`wss://127.0.0.1:${stack.port}/nbd/0`, {
        ca: stack.ca,
        image,
        headers: basicAuth(stack.admin.user, stack.admin.password),
        ciphers: v.cipher,
      });
      try {
        await exportServed(slot.exportSocket);
        return await measureTransfer({
          path: 'C',
          variant: v.name,
          ...(v.name === REFERENCE ? {} : { reference: REFERENCE }),
          bytes,
          watched: [
            { name: 'web', pid: stack.webPid },
            { name: 'daemon', pid: stack.daemon.pid },
          ],
          transfer: () => nbdcopyToNull(`nbd+unix:///?socket=${slot.exportSocket}`, CONNECTIONS),
        });
      } finally {
        client.ws.close();
        await client.ended;
      }
    };
    try {
      return await interleaved(rounds, VARIANTS.map(once));
    } finally {
      for (const s of stacks.values()) await s.stop();
    }
  },
};
export default benchmark;
