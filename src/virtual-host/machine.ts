// One QEMU process: one power-on of the virtual host, from the first instruction to power-off
// or reset. It starts paused, gets its media and its boot order, then runs. From then on a
// reset (the guest's or ours) ends the process too, so every boot is a fresh QEMU that takes
// the boot settings and firmware of its moment; exited tells which way it ended.
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log.js';
import { describeExit, type ProcessRunner, type RunningProcess } from '../process/runner.js';
import { LiveMedia } from './live-media.js';
import type { MediaWatch } from './media-watch.js';
import { QEMU_BINARY, qemuArguments, type QemuCommandInput } from './qemu-command.js';
import { QmpClient } from './qmp-client.js';

export interface MachineExit {
  /** QEMU's SHUTDOWN reason (guest-shutdown, guest-reset, host-qmp-quit, host-qmp-system-reset,
   *  host-signal, …), or "crashed" when the process ended without one. */
  reason: string;
  /** A reset ended it: the host is to boot again. */
  reset: boolean;
}

export interface Machine {
  readonly exited: Promise<MachineExit>;
  /** Presses the ACPI power button; the guest OS decides what follows. */
  powerdown(): Promise<void>;
  /** The reset button. */
  reset(): Promise<void>;
  /** Pulls the plug. */
  quit(): Promise<void>;
  kill(): void;
}

export interface MachineOptions {
  runner: ProcessRunner;
  log: Logger;
  command: QemuCommandInput;
  media: MediaWatch;
}

/** Under TCG on a busy machine QEMU may take a while before its QMP socket answers. */
const QMP_CONNECT_TIMEOUT_MS = 30_000;
const RESET_REASONS = new Set(['guest-reset', 'host-qmp-system-reset']);

export async function startMachine(opts: MachineOptions): Promise<Machine> {
  const { command, log } = opts;
  const { paths } = command;
  mkdirSync(path.dirname(paths.qmpSocket), { recursive: true, mode: 0o700 });
  for (const socket of [paths.qmpSocket, paths.monitorSocket]) rmSync(socket, { force: true });

  const stderr: string[] = [];
  const proc = await opts.runner.start(QEMU_BINARY, qemuArguments(command), {
    onLine: (line, stream) => {
      if (stream === 'stdout') return log.info({ process: 'qemu' }, line);
      log.warn({ process: 'qemu', stream }, line);
      // the last lines go into the error of a failed start
      stderr.push(line);
      if (stderr.length > 5) stderr.shift();
    },
  });
  const failed = async (err: unknown): Promise<never> => {
    proc.kill('SIGKILL');
    await proc.exited;
    const detail = stderr.length > 0 ? `: ${stderr.join(' | ')}` : '';
    throw new Error(`QEMU did not start (${(err as Error).message})${detail}`);
  };

  const qmp = await connectQmp(paths.qmpSocket, proc).catch(failed);
  let shutdownReason: string | undefined;
  qmp.onEvent((e) => {
    if (e.event === 'SHUTDOWN') shutdownReason = String(e.data.reason);
  });
  const media = new LiveMedia(qmp, command.slots, command.plan, log);
  const stopFollowing = opts.media.subscribe((snapshot) => void media.reconcile(snapshot));
  const exited = proc.exited.then((exit): MachineExit => {
    stopFollowing();
    qmp.close();
    for (const socket of [paths.qmpSocket, paths.monitorSocket]) rmSync(socket, { force: true });
    const reason = shutdownReason ?? 'crashed';
    if (!shutdownReason) log.error({ exit: describeExit(exit), stderr }, 'QEMU ended without shutting down');
    return { reason, reset: RESET_REASONS.has(reason) };
  });

  try {
    await media.reconcile(opts.media.current());
    // the firmware's boot order (fw_cfg "bootorder") is built at reset: build it again with the USB sticks in
    await qmp.execute('system_reset');
    // from now on a reset ends this QEMU, and the host boots a new one
    await qmp.execute('set-action', { reboot: 'shutdown' });
    await qmp.execute('cont');
  } catch (err) {
    await failed(err);
  }
  log.info(
    { qemuPid: proc.pid, firmware: command.plan.firmware, bootIndex: Object.fromEntries(command.plan.bootIndex) },
    'QEMU running',
  );

  return {
    exited,
    powerdown: () => qmp.execute('system_powerdown'),
    reset: () => qmp.execute('system_reset'),
    // QEMU may close the connection before it answers: either way it is going
    quit: () =>
      qmp.execute('quit').then(
        () => undefined,
        () => undefined,
      ),
    kill: () => proc.kill('SIGKILL'),
  };
}

async function connectQmp(socket: string, proc: RunningProcess): Promise<QmpClient> {
  const deadline = Date.now() + QMP_CONNECT_TIMEOUT_MS;
  for (;;) {
    try {
      return await QmpClient.connect(socket);
    } catch (err) {
      if (!proc.running()) throw new Error('QEMU exited');
      if (Date.now() > deadline) throw new Error(`no QMP answer on ${socket}: ${(err as Error).message}`);
    }
    await sleep(50);
  }
}
