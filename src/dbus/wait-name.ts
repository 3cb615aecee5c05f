// Waits until a bus name has an owner: how `vmedia start` and the tests know a daemon is up.
import dbus from 'dbus-next';
import { connectBus } from './connect.js';

export async function waitForBusName(
  address: string,
  name: string,
  opts: { timeoutMs: number; giveUp?: Promise<unknown> },
): Promise<void> {
  const bus = await connectBus(address);
  let gaveUp = false;
  void opts.giveUp?.then(() => {
    gaveUp = true;
  });
  const deadline = Date.now() + opts.timeoutMs;
  try {
    for (;;) {
      const reply = await bus.call(
        new dbus.Message({
          destination: 'org.freedesktop.DBus',
          path: '/org/freedesktop/DBus',
          interface: 'org.freedesktop.DBus',
          member: 'NameHasOwner',
          signature: 's',
          body: [name],
        }),
      );
      if (reply?.body[0] === true) return;
      if (gaveUp) throw new Error(`gave up waiting for ${name}`);
      if (Date.now() > deadline) throw new Error(`${name} did not appear on ${address} within ${opts.timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    bus.disconnect();
  }
}
