// nbdkit serving a file on a Unix socket: the stand-in for a slot's NBD server (the browser of a
// Proxy slot, or a Legacy source) in the VM tests.
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { waitFor } from '../../helpers/wait.js';

export interface NbdkitServer {
  pid: number;
  socket: string;
  /** Resolves with the exit once nbdkit has gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL: a crashed server. */
  kill(): Promise<void>;
  /** SIGTERM, SIGKILL after 3 s. */
  stop(): Promise<void>;
}

export async function startNbdkitFile(opts: {
  socket: string;
  file: string;
  readonly?: boolean;
  /** nbdkit's log filter writes every request here (one line per call and one per reply). */
  logFile?: string;
}): Promise<NbdkitServer> {
  const args = [
    '--foreground',
    '--exit-with-parent',
    '--unix',
    opts.socket,
    ...(opts.readonly ? ['--readonly'] : []),
    ...(opts.logFile ? ['--filter=log'] : []),
    'file',
    opts.file,
    ...(opts.logFile ? [`logfile=${opts.logFile}`] : []),
  ];
  rmSync(opts.socket, { force: true }); // nbdkit does not remove its socket when it is stopped
  const child = spawn('nbdkit', args, { stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  await waitFor(`nbdkit socket ${opts.socket}`, () => existsSync(opts.socket) || gone, { timeoutMs: 10_000 });
  if (gone) throw new Error(`nbdkit ${args.join(' ')} exited at start`);
  const kill = async () => {
    if (!gone) child.kill('SIGKILL');
    await exited;
    rmSync(opts.socket, { force: true });
  };
  // nbdkit waits for connected clients after SIGTERM: a client left connected must not hang the test
  const stop = async () => {
    if (!gone) child.kill('SIGTERM');
    const timer = setTimeout(() => void kill(), 3000);
    await exited;
    clearTimeout(timer);
    rmSync(opts.socket, { force: true });
  };
  return { pid: child.pid!, socket: opts.socket, exited, kill, stop };
}

/** The lengths of the reads in a log filter's file, in order. */
export function loggedReadLengths(logText: string): number[] {
  return [...logText.matchAll(/ Read id=\d+ offset=0x[0-9a-f]+ count=0x([0-9a-f]+)/g)].map((m) => parseInt(m[1]!, 16));
}
