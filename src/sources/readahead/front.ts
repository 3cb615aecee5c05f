// The slot socket of a network source with read-ahead: our NBD server in front of nbdkit, which
// listens on a private socket. Opens the upstream connections the read-ahead spreads its chunk
// fetches over, then serves the host backend's connections from the read-ahead backend.
import { NbdClient } from '../../nbd/client.js';
import { clientBackend } from '../../nbd/client-backend.js';
import { NbdServer } from '../../nbd/server.js';
import { listenNbd } from '../../nbd-node/listen.js';
import { connectUnix } from '../../nbd-node/socket-stream.js';
import { readaheadBackend, type ReadaheadBackend, type ReadaheadOptions } from './backend.js';

export interface ReadaheadFrontOptions extends ReadaheadOptions {
  /** Where nbdkit listens. */
  upstreamSocket: string;
  /** Connections to nbdkit: chunk fetches in parallel (nbdkit curl serves one per connection). */
  connections: number;
  /** The slot socket the host backend connects to. */
  socket: string;
}

export interface ReadaheadFront {
  readonly backend: ReadaheadBackend;
  /** Stops serving, cuts the host's connections and disconnects from nbdkit. */
  close(): Promise<void>;
}

export async function startReadaheadFront(opts: ReadaheadFrontOptions): Promise<ReadaheadFront> {
  const settled = await Promise.allSettled(
    Array.from({ length: opts.connections }, async () => NbdClient.connect(await connectUnix(opts.upstreamSocket))),
  );
  const clients = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
    throw failed.reason;
  }
  const backend = readaheadBackend(clients.map(clientBackend), opts);
  let listener;
  try {
    listener = await listenNbd(new NbdServer({ exports: () => backend }), { socket: opts.socket });
  } catch (err) {
    await backend.close?.();
    throw err;
  }
  return {
    backend,
    async close() {
      await listener.close();
      await backend.close?.();
    },
  };
}
