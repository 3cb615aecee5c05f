// Image credentials reach the daemon only through a pipe fd passed with Mount (`sbh`), carrying
// `user\0password\0` (≤ 1026 bytes, below PIPE_BUF: the daemon finds the whole message at once).
import type { ProcessRunner } from '../../process/runner.js';
import { openPayloadPipe, type PayloadPipe } from './payload-pipe.js';

export type CredentialsPipe = PayloadPipe;

export function openCredentialsPipe(
  runner: ProcessRunner,
  runtimeDir: string,
  user: string,
  password: string,
): Promise<CredentialsPipe> {
  return openPayloadPipe(
    runner,
    runtimeDir,
    Buffer.concat([Buffer.from(user, 'utf8'), Buffer.from([0]), Buffer.from(password, 'utf8'), Buffer.from([0])]),
  );
}
