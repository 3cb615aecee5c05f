// nbdkit's network plugins only contact the image server when an NBD client opens the export,
// so a source is proven usable by opening it once: the handshake makes curl fetch the size,
// which is where a wrong URL, credentials or CA shows up.
import { connectUnix } from '../../nbd-node/socket-stream.js';
import { NbdClient } from '../../nbd/client.js';

/** The export's size in bytes; rejects when the handshake fails. */
export async function probeExport(socket: string, timeoutMs: number): Promise<number> {
  const stream = await connectUnix(socket);
  const client = await NbdClient.connect(stream, { timeoutMs });
  const size = client.size;
  await client.disconnect().catch(() => {
    /* the size is what we came for */
  });
  return size;
}
