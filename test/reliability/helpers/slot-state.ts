// A slot as the daemon publishes it, read the way bmcweb and the web do (GetManagedObjects).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BUS_NAME, IFACE, ROOT_PATH, slotPath, type SlotModeName } from '../../../src/dbus/names.js';

const run = promisify(execFile);

export type ManagedObjects = Record<string, Record<string, Record<string, { data: unknown }>>>;

/** Every property of every slot object (GetManagedObjects, as busctl decodes it). */
export async function managedObjects(busAddress: string): Promise<ManagedObjects> {
  const { stdout } = await run('busctl', [
    `--address=${busAddress}`,
    '--json=short',
    'call',
    BUS_NAME,
    ROOT_PATH,
    IFACE.objectManager,
    'GetManagedObjects',
  ]);
  const reply = JSON.parse(stdout) as { data: [ManagedObjects] };
  return reply.data[0];
}

export interface SlotState {
  active: boolean;
  /** Process.ExitCode: -1 while media is in, else the errno of the last Completion that ended in Ready. */
  exitCode: number;
}

export async function slotState(busAddress: string, mode: SlotModeName, slot: string): Promise<SlotState> {
  const props = (await managedObjects(busAddress))[slotPath(mode, slot)]?.[IFACE.process];
  if (!props) throw new Error(`no ${mode} slot ${slot} on the bus`);
  return { active: props.Active?.data === true, exitCode: Number(props.ExitCode?.data) };
}
