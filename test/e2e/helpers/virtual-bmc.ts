// The whole virtual BMC for end-to-end tests: the stack of test/helpers/stack.ts (private bus,
// daemon with the export backend, `vmedia web`) plus `vmedia host` on the same bus, whose QEMU VM
// gets the daemon's slot exports as its drives. What Ironic talks to, and a host that boots.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitForBusName } from '../../../src/dbus/wait-name.js';
import { startStack, type Stack, type StackOptions } from '../../helpers/stack.js';
import { qmpOnce } from '../../virtual-host/stack.js';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const HOST_SERVICE = 'xyz.openbmc_project.State.Host';

export interface VirtualBmc {
  stack: Stack;
  /** The VM's serial console, appended to across boots. */
  consoleLog: string;
  /** `vmedia host`'s output so far. */
  hostOutput(): string;
  /** One command on QEMU's spare QMP socket; rejects while no QEMU runs. */
  qmp(command: string): Promise<unknown>;
  stop(): Promise<void>;
}

export async function startVirtualBmc(
  opts: StackOptions & { mediaTypes: NonNullable<StackOptions['mediaTypes']> },
): Promise<VirtualBmc> {
  const stack = await startStack(opts);
  // `vmedia host` reads the daemon's slots from a config of the same shape; its own files (QMP
  // sockets, console log, NVRAM) go to a runtime dir of its own
  const hostDir = path.join(stack.dir, 'vhost');
  mkdirSync(hostDir, { recursive: true });
  const configPath = path.join(stack.dir, 'host-config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      HostBackend: 'export',
      RuntimeDir: hostDir,
      MountPoints: Object.fromEntries(
        stack.slots.map((slot, i) => [
          slot.name,
          {
            EndpointId: slot.endpoint,
            Mode: slot.mode === 'Proxy' ? 0 : 1,
            NBDDevice: `nbd${i}`,
            UnixSocket: slot.socket,
            ExportSocket: slot.exportSocket,
            ...(opts.mediaTypes[slot.name] ? { MediaType: opts.mediaTypes[slot.name] } : {}),
          },
        ]),
      ),
    }),
  );
  const host = spawn(
    process.execPath,
    // a guest without an OS ignores the ACPI power button: keep the wait before forcing it off short
    ['--import', 'tsx', MAIN, 'host', '--config', configPath, '--bus', stack.busAddress, '--graceful-off-timeout', '1'],
    { env: { ...process.env, VMEDIA_LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  host.stdout.on('data', (d: Buffer) => (output += d.toString()));
  host.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => host.once('close', () => resolve()));
  const stop = async () => {
    if (host.exitCode === null && host.signalCode === null) host.kill('SIGTERM');
    await exited;
    await stack.stop();
  };
  try {
    await waitForBusName(stack.busAddress, HOST_SERVICE, { timeoutMs: 30_000, giveUp: exited });
  } catch (err) {
    await stop();
    throw new Error(`vmedia host did not start: ${(err as Error).message}\n${output}`);
  }
  return {
    stack,
    consoleLog: path.join(hostDir, 'host-console.log'),
    hostOutput: () => output,
    qmp: (command) => qmpOnce(path.join(hostDir, 'host', 'monitor.sock'), command),
    stop,
  };
}
