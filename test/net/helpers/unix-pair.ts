// A connected pair on a unix socket, for the send-buffer tests and their unprivileged child.
import net from 'node:net';

export interface UnixPair {
  /** The end the server accepted: the one a server's code would enlarge. */
  accepted: net.Socket;
  close(): void;
}

export async function acceptedPair(socketPath: string): Promise<UnixPair> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(socketPath, r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect(socketPath);
  const sock = await accepted;
  return {
    accepted: sock,
    close: () => {
      client.destroy();
      sock.destroy();
      server.close();
    },
  };
}
