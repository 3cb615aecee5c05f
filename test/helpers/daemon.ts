// Starts `vmedia daemon` from source against a test bus, with its config written to a temp file;
// resolves once the daemon owns xyz.openbmc_project.VirtualMedia. VMEDIA_TEST_ENTRY=<bundle's
// dist/cli/main.mjs> runs the production bundle instead (test/packaging/bundle.test.ts).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUS_NAME } from '../../src/dbus/names.js';
import { waitForBusName } from '../../src/dbus/wait-name.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** Node's arguments that run the `vmedia` command: `entry` (a bundled main.mjs), else
 *  $VMEDIA_TEST_ENTRY, else the source under tsx. */
export function vmediaArgs(entry = process.env.VMEDIA_TEST_ENTRY): string[] {
  return entry ? [entry] : ['--import', 'tsx', MAIN];
}

export interface RunningDaemon {
  pid: number;
  configPath: string;
  /** stdout + stderr so far. */
  output(): string;
  exited: Promise<number | null>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

export interface DaemonOptions {
  /** Raw config JSON, written to a temp file. */
  config: object;
  busAddress: string;
  env?: Record<string, string>;
  /** How long startDaemon waits for the bus name (default 20 s; the QEMU VM needs more). */
  startTimeoutMs?: number;
  /** A bundled main.mjs to run instead of src/cli/main.ts under tsx (the QEMU VM tests use one). */
  entry?: string;
}

/**
 * The MountPoints entry of Slot_<n> with the export host backend: a Proxy slot serves /nbd/<n>,
 * the host reads the slot on export/Slot_<n>.sock. `extra` adds or overrides keys (Timeout, MediaType).
 */
export function exportBackendSlot(mode: 'Proxy' | 'Legacy', n: number, extra: object = {}): object {
  return {
    EndpointId: mode === 'Proxy' ? `/nbd/${n}` : '',
    Mode: mode === 'Proxy' ? 0 : 1,
    NBDDevice: `nbd${n}`,
    UnixSocket: `nbd${n}.sock`,
    ExportSocket: `export/Slot_${n}.sock`,
    Timeout: 30,
    ...extra,
  };
}

/** Spawns the daemon without waiting: for tests that expect it to refuse to start. */
export function spawnDaemon(opts: DaemonOptions): RunningDaemon {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-daemon-'));
  const configPath = path.join(dir, 'virtual-media.json');
  writeFileSync(configPath, JSON.stringify(opts.config, null, 2));
  const child = spawn(
    process.execPath,
    [...vmediaArgs(opts.entry), 'daemon', '--config', configPath, '--bus', opts.busAddress],
    {
      env: { ...process.env, VMEDIA_LOG_FORMAT: 'json', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      rmSync(dir, { recursive: true, force: true });
      resolve(code);
    }),
  );
  return {
    pid: child.pid!,
    configPath,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  const daemon = spawnDaemon(opts);
  try {
    await waitForBusName(opts.busAddress, BUS_NAME, {
      timeoutMs: opts.startTimeoutMs ?? 20_000,
      giveUp: daemon.exited,
    });
  } catch (err) {
    await daemon.stop();
    throw new Error(`daemon did not start: ${(err as Error).message}\n${daemon.output()}`);
  }
  return daemon;
}
