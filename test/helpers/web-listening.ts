// Waiting for a spawned `vmedia web` to listen: it prints "listening on https://…" once it
// accepts connections. One place for what every test that starts a web needs: its output
// collected, the URL, and a web that exits or stays silent too long killed, not left running.
import type { ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface ListeningWeb {
  baseUrl: string;
  /** stdout and stderr so far. */
  output: () => string;
  /** Resolves with the exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  signal: (sig: NodeJS.Signals) => void;
  /** SIGTERM, then waits for the exit. */
  stop: () => Promise<void>;
}

/** `child` was spawned with stdout and stderr piped; rejects if it exits or is silent for `timeoutMs`. */
export async function webListening(
  child: ChildProcessByStdio<null, Readable, Readable>,
  timeoutMs: number,
): Promise<ListeningWeb> {
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const signal = (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  const stop = async () => {
    signal('SIGTERM');
    await exited;
  };
  let timer: NodeJS.Timeout | undefined;
  const baseUrl = await new Promise<string>((resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`vmedia web did not listen within ${timeoutMs / 1000} s:\n${output}`)),
      timeoutMs,
    );
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      const m = /listening on (https:\/\/\S+)/.exec(output);
      if (m) resolve(m[1]!);
    });
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    void exited.then(() => reject(new Error(`vmedia web exited before listening:\n${output}`)));
  })
    .catch(async (err: unknown) => {
      signal('SIGKILL');
      await exited;
      throw err;
    })
    .finally(() => clearTimeout(timer));
  return { baseUrl, output: () => output, exited, signal, stop };
}
