// The source of a generated image (config drive, NoCloud, floppy): no URL and no nbdkit, our
// NBD server on the slot socket serves the bytes the daemon built, from memory. Everything after
// the socket (host backend, Stats, inactivity, Completion) is the same as for a Legacy URL.
import { NbdServer } from '../../nbd/server.js';
import { listenNbd } from '../../nbd-node/listen.js';
import type { Logger } from '../../log.js';
import { MountError } from '../../errno.js';
import type { GeneratedImage, RunningSource } from '../types.js';
import { memoryBackend } from './memory-backend.js';

export async function serveGeneratedImage(
  generated: GeneratedImage,
  opts: { socket: string; writable: boolean; log: Logger },
): Promise<RunningSource> {
  if (generated.bytes.length === 0) throw new MountError('ENOMEDIUM', 'the generated image is empty');
  const backend = memoryBackend(generated.bytes, {
    readOnly: !opts.writable,
    ...(generated.onFullyRead ? { onFullyRead: generated.onFullyRead } : {}),
  });
  const server = new NbdServer({
    exports: () => backend,
    onError: (err) => opts.log.warn({ err: err.message }, 'serving the generated image failed'),
  });
  let listener;
  try {
    listener = await listenNbd(server, { socket: opts.socket });
  } catch (err) {
    throw new MountError('EIO', (err as Error).message, { cause: err });
  }
  let stopped = false;
  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      await listener.close();
    },
  };
}
