// Starts helpers/browser-process.ts as a child process and follows what it prints.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../helpers/wait.js';
import type { Fixture } from './fixture.js';

const SCRIPT = fileURLToPath(new URL('./browser-process.ts', import.meta.url));

export interface BrowserChild {
  pid: number;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  signal(sig: NodeJS.Signals): void;
}

/** A browser process serving `image` on the slot's endpoint; resolves once the bridge accepted it. */
export async function startBrowserChild(fx: Fixture, endpoint: string, image: string): Promise<BrowserChild> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      SCRIPT,
      `wss://127.0.0.1:${fx.stack.port}${endpoint}`,
      image,
      fx.stack.caPath,
      fx.stack.operator.user,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  child.stdin.end(fx.stack.operator.password);
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const browser: BrowserChild = {
    pid: child.pid!,
    output: () => output,
    exited,
    signal: (sig) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
  };
  await waitFor(
    () => `the browser process to connect (it printed: ${output})`,
    () => output.includes('open\n'),
    {
      timeoutMs: 20_000,
    },
  );
  return browser;
}
