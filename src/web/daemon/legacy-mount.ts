// Legacy Mount with or without image credentials, for Redfish InsertMedia and `vmedia mount`:
// the one place that puts the credentials into the pipe passed with the call
// (docs/dbus.md#credentials-pipe), waits for the Completion and closes the pipe afterwards.
import { completionWaitMs } from '../../contract.js';
import type { ProcessRunner } from '../../process/runner.js';
import type { DaemonClient, SlotState } from './client.js';
import { openCredentialsPipe } from './credentials-pipe.js';

export interface LegacyMountRequest {
  url: string;
  rw: boolean;
  credentials?: { user: string; password: string } | undefined;
}

/** Where the pipe's FIFO is made (for the moment it exists) and who runs mkfifo. */
export interface PipeMaker {
  runner: ProcessRunner;
  runtimeDir: string;
}

/** Resolves with the Completion's errno (0 = mounted); rejects as DaemonClient.operate does. */
export async function mountLegacy(
  client: DaemonClient,
  slot: SlotState,
  request: LegacyMountRequest,
  pipes: PipeMaker,
): Promise<number> {
  const { credentials } = request;
  const pipe = credentials
    ? await openCredentialsPipe(pipes.runner, pipes.runtimeDir, credentials.user, credentials.password)
    : undefined;
  try {
    return await client.operate(
      slot,
      'Mount',
      { url: request.url, rw: request.rw, fd: pipe?.fd },
      completionWaitMs(slot.timeout),
    );
  } finally {
    pipe?.close();
  }
}
