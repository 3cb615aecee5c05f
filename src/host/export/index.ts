// The export host backend (docs/architecture.md), for dev machines, CI and VMs without /dev/nbd:
// our NBD client connects to the slot socket and our NBD server re-serves the image on the
// slot's ExportSocket (QEMU, nbdinfo and nbdcopy read it). Active once the handshake gave a size.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { MountError } from '../../errno.js';
import type { Logger } from '../../log.js';
import type { ServiceConfig, SlotConfig } from '../../config/types.js';
import { NbdClient } from '../../nbd/client.js';
import { clientBackend } from '../../nbd/client-backend.js';
import { NbdServer } from '../../nbd/server.js';
import { listenNbd } from '../../nbd-node/listen.js';
import { connectUnix } from '../../nbd-node/socket-stream.js';
import type { HostAttachRequest, HostAttachment, HostBackend } from '../types.js';
import { countingBackend } from './counting-backend.js';

export async function createExportHostBackend(config: ServiceConfig, log: Logger): Promise<HostBackend> {
  void config;
  return {
    name: 'export',
    async cleanupStale(slots: readonly SlotConfig[]) {
      for (const slot of slots) if (slot.exportSocket) rmSync(slot.exportSocket, { force: true });
    },
    attach: (req, onLost) => attachExport(req, onLost, log.child({ slot: req.slot.name })),
    async close() {},
  };
}

async function attachExport(
  req: HostAttachRequest,
  onLost: (err: MountError) => void,
  log: Logger,
): Promise<HostAttachment> {
  const exportSocket = req.slot.exportSocket;
  if (!exportSocket) throw new MountError('EINVAL', `${req.slot.name} has no ExportSocket for the export backend`);
  const client = await connectClient(req);
  if (client.size === 0) {
    await client.disconnect().catch(() => undefined);
    throw new MountError('ENOMEDIUM', `the NBD server on ${req.socket} serves an empty image`);
  }
  const backend = countingBackend(clientBackend(client), { readOnly: !req.writable });
  let listener;
  try {
    mkdirSync(path.dirname(exportSocket), { recursive: true });
    listener = await listenNbd(new NbdServer({ exports: () => backend }), { socket: exportSocket });
  } catch (err) {
    await client.disconnect().catch(() => undefined);
    throw new MountError('EIO', `cannot serve ${exportSocket}: ${(err as Error).message}`, { cause: err });
  }
  log.info({ size: client.size, exportSocket, readOnly: backend.readOnly }, 'image re-exported');

  let detaching: Promise<void> | undefined;
  client.onClose((err) => {
    if (detaching) return;
    onLost(new MountError('ECONNRESET', `the NBD server on ${req.socket} went away${err ? `: ${err.message}` : ''}`));
  });
  return {
    stats: () => ({ ...backend.stats }),
    detach() {
      detaching ??= (async () => {
        await listener.close();
        await client.disconnect().catch((err: Error) => log.debug({ err: err.message }, 'NBD disconnect after loss'));
        rmSync(exportSocket, { force: true });
      })();
      return detaching;
    },
  };
}

/** Nothing listening, or no NBD server answering, is a refused connection (OpenBMC: nbd-client exits early). */
async function connectClient(req: HostAttachRequest): Promise<NbdClient> {
  let stream;
  try {
    stream = await connectUnix(req.socket);
  } catch (err) {
    throw new MountError('ECONNREFUSED', `no NBD server listens on ${req.socket}`, { cause: err });
  }
  try {
    return await NbdClient.connect(stream, { timeoutMs: req.slot.timeout * 1000 });
  } catch (err) {
    stream.close();
    throw new MountError('ECONNREFUSED', `no NBD server answered on ${req.socket}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
