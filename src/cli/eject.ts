// `vmedia eject SLOT`: Unmount on the slot's own interface (Legacy or Proxy), waiting for the
// Completion. An empty slot is not an error: ejecting nothing is done already (as EjectMedia).
import type { CommandModule } from 'yargs';
import { completionWaitMs } from '../contract.js';
import { DaemonCallError } from '../web/daemon/client.js';
import { busOption, findSlot, withDaemon, type BusArgs } from './daemon-connection.js';
import { checkCompletion, runOperatorCommand, usageFailure } from './operator-exit.js';

interface EjectArgs extends BusArgs {
  slot: string;
}

async function eject(args: EjectArgs): Promise<void> {
  await withDaemon(args.bus, async (client) => {
    const slot = await findSlot(client, args.slot);
    let errno: number;
    try {
      errno = await client.operate(slot, 'Unmount', undefined, completionWaitMs(slot.timeout));
    } catch (err) {
      // only a slot in Ready refuses Unmount with EPERM (busy is EBUSY)
      if (err instanceof DaemonCallError && err.errno === 'EPERM') {
        process.stdout.write(`${slot.name}: empty already\n`);
        return;
      }
      throw err;
    }
    checkCompletion(slot.name, 'ejecting', errno);
    process.stdout.write(`${slot.name}: ejected\n`);
  });
}

export const ejectCommand: CommandModule<object, EjectArgs> = {
  command: 'eject <slot>',
  describe: 'eject the media of a slot (Legacy or Proxy) and wait for the outcome',
  builder: (y) =>
    busOption(y)
      .positional('slot', { type: 'string', demandOption: true, describe: 'e.g. Slot_2' })
      .fail(usageFailure('eject')),
  handler: (args) => runOperatorCommand('eject', () => eject(args)),
};
