// The host reading the whole disk (nbdcopy on a slot's ExportSocket), followed while it runs: how
// many bytes arrived so far, and how it ended. Faults are injected once bytes flow.
import { spawn } from 'node:child_process';

export interface HostRead {
  /** Bytes received so far. */
  bytes(): number;
  /** How nbdcopy ended: exit code 0 with every byte, or the error it printed. */
  done: Promise<{ code: number | null; bytes: number; stderr: string }>;
}

export function startHostRead(exportSocket: string): HostRead {
  const child = spawn('nbdcopy', [`nbd+unix:///?socket=${exportSocket}`, '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let bytes = 0;
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (bytes += d.length));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; bytes: number; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, bytes, stderr })),
  );
  return { bytes: () => bytes, done };
}
