// Drives one Legacy slot of a running daemon the way BMC clients do: busctl for Mount `sbv … i -1`
// and Unmount, python3-dbus (which passes unix fds; busctl 252 cannot) for Mount with a
// credentials pipe, and a dbus-next listener collecting the slot's Completion(i) signals.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type dbus from 'dbus-next';
import { connectBus } from '../../../src/dbus/connect.js';
import { BUS_NAME, IFACE, slotPath } from '../../../src/dbus/names.js';
import { waitFor } from '../../helpers/wait.js';
import { run } from './provider.js';

const MOUNT_CLIENT = fileURLToPath(new URL('./legacy-mount.py', import.meta.url));

export interface LegacyClient {
  /** busctl against the test bus ('--' first: "-1" is an argument, not an option). */
  busctl(...args: string[]): ReturnType<typeof run>;
  /** Mount(sbv url false i -1) via busctl; resolves with the Completion code. */
  mount(url: string): Promise<number>;
  /** Mount with a credentials pipe via python3-dbus (password on its stdin, never argv);
   *  resolves with the Completion code. */
  mountWithPipe(url: string, user: string, password: string, form: 'sbh' | 'sbv'): Promise<number>;
  /** Unmount via busctl; resolves with the Completion code. */
  unmount(): Promise<number>;
  /** The MountPoint.ImageURL property as busctl prints it (`s "…"`). */
  imageUrl(): Promise<string>;
  close(): void;
}

export async function legacyClient(
  busAddress: string,
  slot: string,
  opts: { completionTimeoutMs?: number } = {},
): Promise<LegacyClient> {
  const path = slotPath('Legacy', slot);
  const bus: dbus.MessageBus = await connectBus(busAddress);
  const completions: number[] = [];
  const legacy = (await bus.getProxyObject(BUS_NAME, path)).getInterface(IFACE.legacy);
  legacy.on('Completion', (code: number) => completions.push(code));

  const busctl = (...args: string[]) => run('busctl', [`--address=${busAddress}`, '--', ...args]);
  const nextCompletion = (since: number): Promise<number> => {
    const timeoutMs = opts.completionTimeoutMs ?? 30_000;
    return waitFor(`a Completion on ${path}`, () => completions[since], { timeoutMs, intervalMs: 5 });
  };
  const call = async (expectTrue: Promise<string>): Promise<number> => {
    const since = completions.length;
    const reply = await expectTrue;
    if (reply !== 'b true' && reply !== 'True') throw new Error(`the call was not accepted: ${reply}`);
    return nextCompletion(since);
  };
  const busctlReply = async (...args: string[]) => {
    const r = await busctl(...args);
    return r.code === 0 ? r.stdout.trim() : r.stderr.trim();
  };

  return {
    busctl,
    mount: (url) => call(busctlReply('call', BUS_NAME, path, IFACE.legacy, 'Mount', 'sbv', url, 'false', 'i', '-1')),
    mountWithPipe: (url, user, password, form) =>
      call(
        new Promise<string>((resolve) => {
          const child = execFile(
            '/usr/bin/python3',
            [MOUNT_CLIENT, busAddress, path, url, 'false', user, form],
            (err, stdout, stderr) => {
              resolve(err ? `${stdout}${stderr}`.trim() : stdout.trim());
            },
          );
          child.stdin!.end(password);
        }),
      ),
    unmount: () => call(busctlReply('call', BUS_NAME, path, IFACE.legacy, 'Unmount')),
    imageUrl: () => busctlReply('get-property', BUS_NAME, path, IFACE.mountPoint, 'ImageURL'),
    close: () => bus.disconnect(),
  };
}
