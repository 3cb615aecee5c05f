// The operator commands reach the daemon as the web does: through its D-Bus client
// (src/web/daemon/client.ts). This opens it, finds a slot by name, and always lets go of the bus.
import type { Argv } from 'yargs';
import { DaemonClient, type SlotState } from '../web/daemon/client.js';
import { CliError, EXIT } from './operator-exit.js';

export interface BusArgs {
  bus: string;
}

/** The `--bus` option every command that talks to the daemon has. */
export function busOption<T>(y: Argv<T>): Argv<T & BusArgs> {
  return y.option('bus', {
    type: 'string',
    default: 'system',
    describe: "the daemon's bus: system, session or a D-Bus address",
  });
}

/** Calls `use` with a connected client and disconnects afterwards, whatever happens. */
export async function withDaemon<T>(bus: string, use: (client: DaemonClient) => Promise<T>): Promise<T> {
  let client: DaemonClient;
  try {
    client = await DaemonClient.connect(bus);
  } catch (err) {
    throw new CliError(EXIT.unreachable, (err as Error).message);
  }
  try {
    return await use(client);
  } finally {
    client.disconnect();
  }
}

/** The slot of that name; an unknown name is invalid input, and the message lists the slots. */
export async function findSlot(client: DaemonClient, name: string): Promise<SlotState> {
  const slots = await client.slots();
  const slot = slots.find((s) => s.name === name);
  if (!slot) throw new CliError(EXIT.invalid, `no slot ${name}; the slots are ${slots.map((s) => s.name).join(', ')}`);
  return slot;
}
