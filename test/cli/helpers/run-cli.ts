// Runs the `vmedia` command as an operator would (a child process: exit code, stdout, stderr).
// The CLI is the production bundle (scripts/bundle.ts) built from the sources once per test file,
// or the one VMEDIA_TEST_ENTRY names: a bundled start costs 0.4 CPU-s, tsx compiling the sources
// 1.5. Tests run independent cases in parallel, a few at a time: more only queue for the same
// two cores and reach their timeouts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildBundle } from '../../../scripts/bundle.js';

export interface CliResult {
  code: number | null;
  /** The signal that ended the command, when one did (then code is null). */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Written to the command's standard input, then closed (default: nothing, closed at once). */
  stdin?: string;
  env?: Record<string, string>;
  /** Killed after this long (default 120 s). */
  timeoutMs?: number;
}

let entry: Promise<string> | undefined;

function cliEntry(): Promise<string> {
  entry ??= (async () => {
    if (process.env.VMEDIA_TEST_ENTRY) return process.env.VMEDIA_TEST_ENTRY;
    const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-cli-bundle-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return (await buildBundle({ outDir: path.join(dir, 'vmedia'), full: false, minify: false })).entry;
  })();
  return entry;
}

const MAX_RUNNING = 3;
let running = 0;
const queued: (() => void)[] = [];

export async function vmedia(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  // a finishing run hands its place to the next queued one
  if (running < MAX_RUNNING) running++;
  else await new Promise<void>((resolve) => queued.push(resolve));
  try {
    return await runOnce(await cliEntry(), args, opts);
  } finally {
    const next = queued.shift();
    if (next) next();
    else running--;
  }
}

function runOnce(cli: string, args: string[], opts: CliOptions): Promise<CliResult> {
  const child = spawn(process.execPath, [cli, ...args], {
    env: { ...process.env, VMEDIA_LOG_FORMAT: 'json', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(opts.stdin ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  return new Promise((resolve) =>
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
}

/** Runs the command and asserts its exit code; the failure shows the command and its output. */
export async function expectExit(code: number, args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const r = await vmedia(args, opts);
  const ended = r.signal ? `killed by ${r.signal}` : String(r.code);
  assert.equal(r.code, code, `vmedia ${args.join(' ')} → ${ended}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/**
 * Runs the command on a pseudo-terminal (util-linux `script`), as an operator at a shell: each
 * answer is typed once its prompt has appeared. The output is what the terminal showed.
 */
export async function vmediaOnTerminal(args: string[], answers: [RegExp, string][]): Promise<CliResult> {
  const quote = (a: string) => `'${a.replaceAll("'", `'\\''`)}'`;
  const command = [process.execPath, await cliEntry(), ...args].map(quote).join(' ');
  const child = spawn('script', ['--quiet', '--return', '--command', command, '/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let shown = '';
  let next = 0;
  let answeredAt = 0;
  const onOutput = (d: Buffer) => {
    shown += d.toString();
    const answer = answers[next];
    // a prompt counts only when it appeared after the previous answer
    if (answer && answer[0].test(shown.slice(answeredAt))) {
      next++;
      answeredAt = shown.length;
      child.stdin.write(`${answer[1]}\r`);
    }
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise((resolve) =>
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: shown, stderr: '' });
    }),
  );
}
