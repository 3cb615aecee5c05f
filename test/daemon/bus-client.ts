// Test-side D-Bus access: busctl for calls and properties (what operators use), a dbus-next
// connection for what busctl cannot give a test easily: error names and the Completion signals.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import dbus from 'dbus-next';
import { connectBus } from '../../src/dbus/connect.js';
import { BUS_NAME } from '../../src/dbus/names.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);

export async function busctl(address: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('busctl', [`--address=${address}`, ...args]);
  return stdout;
}

export interface Signal {
  path: string;
  iface: string;
  member: string;
  body: unknown[];
}

export class BusClient {
  readonly signals: Signal[] = [];
  private constructor(private readonly bus: dbus.MessageBus) {}

  static async connect(address: string): Promise<BusClient> {
    const client = new BusClient(await connectBus(address));
    client.bus.on('message', (msg: dbus.Message) => {
      if (msg.type !== dbus.MessageType.SIGNAL || msg.interface === 'org.freedesktop.DBus') return;
      client.signals.push({ path: msg.path, iface: msg.interface, member: msg.member, body: msg.body });
    });
    await client.callOn('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'AddMatch', 's', [
      "type='signal',path_namespace='/xyz/openbmc_project/VirtualMedia'",
    ]);
    return client;
  }

  callOn(
    destination: string,
    path: string,
    iface: string,
    member: string,
    signature = '',
    body: unknown[] = [],
  ): Promise<unknown[]> {
    return this.bus
      .call(new dbus.Message({ destination, path, interface: iface, member, signature, body }))
      .then((reply) => reply?.body ?? []);
  }

  call(path: string, iface: string, member: string, signature = '', body: unknown[] = []): Promise<unknown[]> {
    return this.callOn(BUS_NAME, path, iface, member, signature, body);
  }

  /** The D-Bus error name and text a call fails with. */
  async callError(
    path: string,
    iface: string,
    member: string,
    signature = '',
    body: unknown[] = [],
  ): Promise<{ name: string; text: string }> {
    try {
      await this.call(path, iface, member, signature, body);
    } catch (err) {
      if (err instanceof dbus.DBusError) return { name: err.type, text: err.text };
      throw err;
    }
    throw new Error(`${member} was expected to fail`);
  }

  completions(path: string): number[] {
    return this.signals.filter((s) => s.path === path && s.member === 'Completion').map((s) => s.body[0] as number);
  }

  /** Waits for the nth Completion signal (1-based) on path and returns its value. */
  async completion(path: string, nth: number, timeoutMs = 10_000): Promise<number> {
    return waitFor(`Completion #${nth} on ${path}`, () => this.completions(path)[nth - 1], { timeoutMs });
  }

  /** The PropertiesChanged values seen for one property, in order. */
  changes(path: string, property: string): unknown[] {
    return this.signals
      .filter((s) => s.path === path && s.member === 'PropertiesChanged')
      .flatMap((s) => {
        const changed = s.body[1] as Record<string, dbus.Variant>;
        return property in changed ? [changed[property]!.value] : [];
      });
  }

  close(): void {
    this.bus.disconnect();
  }
}
