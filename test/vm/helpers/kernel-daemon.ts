// The real daemon with the kernel host backend inside the VM, on a private bus, driven the way
// BMC clients drive it: busctl for Mount/Unmount and properties, a D-Bus listener for the
// Completion signals. For every end-to-end kernel test (our slots, CIFS/NFS sources, ...).
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { BUS_NAME, IFACE, slotPath, type SlotModeName } from '../../../src/dbus/names.js';
import { BusClient, busctl } from '../../daemon/bus-client.js';
import { startDaemon, type RunningDaemon } from '../../helpers/daemon.js';
import { startTestBus, type TestBus } from '../../helpers/private-bus.js';
import { waitFor } from '../../helpers/wait.js';
import { daemonBundle } from './daemon-bundle.js';
import { gadgetAttr } from './kernel-state.js';
import { waitForHostDisk, type HostDisk } from './host-disk.js';

export interface KernelSlot {
  name: string;
  mode: SlotModeName;
  nbdDevice: string;
  mediaType?: 'CD' | 'USBStick';
  udc?: string;
}

export interface KernelDaemonOptions {
  /** A directory on the VM's tmpfs; the daemon's RuntimeDir is <dir>/run. */
  dir: string;
  slots: KernelSlot[];
  inactivityTimeout?: number;
  trustStore?: string;
  /** Further top-level config keys (e.g. Sources). */
  extra?: Record<string, unknown>;
}

/** Completion takes attach + host enumeration under TCG: generous. */
const COMPLETION_TIMEOUT_MS = 90_000;
/** Node under TCG on a loaded 2-core machine starts far slower than on the host. */
const DAEMON_START_TIMEOUT_MS = 120_000;

export class KernelDaemon {
  private constructor(
    readonly opts: KernelDaemonOptions,
    readonly bus: TestBus,
    public daemon: RunningDaemon,
    public client: BusClient,
  ) {}

  static async start(opts: KernelDaemonOptions): Promise<KernelDaemon> {
    mkdirSync(path.join(opts.dir, 'run'), { recursive: true });
    const bus = await startTestBus();
    try {
      const daemon = await startDaemon({
        busAddress: bus.address,
        config: KernelDaemon.config(opts),
        startTimeoutMs: DAEMON_START_TIMEOUT_MS,
        entry: await daemonBundle(),
      });
      return new KernelDaemon(opts, bus, daemon, await BusClient.connect(bus.address));
    } catch (err) {
      await bus.stop();
      throw err;
    }
  }

  static config(opts: KernelDaemonOptions): object {
    return {
      HostBackend: 'kernel',
      AllowPrivateSourceHosts: true,
      RuntimeDir: path.join(opts.dir, 'run'),
      InactivityTimeout: opts.inactivityTimeout ?? 0,
      ...(opts.trustStore ? { TrustStore: opts.trustStore } : {}),
      ...opts.extra,
      MountPoints: Object.fromEntries(
        opts.slots.map((s) => [
          s.name,
          {
            Mode: s.mode === 'Proxy' ? 0 : 1,
            EndpointId: s.mode === 'Proxy' ? `/nbd/${s.nbdDevice.slice(3)}` : '',
            NBDDevice: s.nbdDevice,
            UnixSocket: `${s.nbdDevice}.sock`,
            Timeout: 30,
            // OpenBMC's value on the USB-stick slots (the kernel's own default is 1024); the CD gadget
            // reads in 2048-byte blocks whatever the device says
            ...(s.mediaType === 'CD' ? {} : { BlockSize: 512 }),
            ...(s.mediaType ? { MediaType: s.mediaType } : {}),
            ...(s.udc ? { UDC: s.udc } : {}),
          },
        ]),
      ),
    };
  }

  get runtimeDir(): string {
    return path.join(this.opts.dir, 'run');
  }

  slot(name: string): KernelSlot {
    const slot = this.opts.slots.find((s) => s.name === name);
    if (!slot) throw new Error(`no slot ${name} in this daemon's config`);
    return slot;
  }

  /** The slot's Unix socket, where a Proxy slot's NBD server (the browser) has to listen. */
  socket(name: string): string {
    return path.join(this.runtimeDir, `${this.slot(name).nbdDevice}.sock`);
  }

  path(name: string): string {
    return slotPath(this.slot(name).mode, name);
  }

  busctl(...args: string[]): Promise<string> {
    return busctl(this.bus.address, '--', ...args);
  }

  /** Mount (Proxy: Mount(); Legacy: Mount(sbv url rw i -1) as bmcweb sends it); resolves with the Completion code. */
  mount(name: string, url = '', writable = false): Promise<number> {
    const slot = this.slot(name);
    return this.callForCompletion(
      name,
      slot.mode === 'Proxy'
        ? ['call', BUS_NAME, this.path(name), IFACE.proxy, 'Mount']
        : ['call', BUS_NAME, this.path(name), IFACE.legacy, 'Mount', 'sbv', url, String(writable), 'i', '-1'],
    );
  }

  unmount(name: string): Promise<number> {
    const iface = this.slot(name).mode === 'Proxy' ? IFACE.proxy : IFACE.legacy;
    return this.callForCompletion(name, ['call', BUS_NAME, this.path(name), iface, 'Unmount']);
  }

  /** The next Completion on the slot after the ones seen so far. */
  nextCompletion(name: string, timeoutMs = COMPLETION_TIMEOUT_MS): Promise<number> {
    return this.client.completion(this.path(name), this.client.completions(this.path(name)).length + 1, timeoutMs);
  }

  private async callForCompletion(name: string, args: string[]): Promise<number> {
    const completion = this.nextCompletion(name);
    const reply = (await this.busctl(...args)).trim();
    if (reply !== 'b true') throw new Error(`${args[4]} on ${name} was not accepted: ${reply}`);
    return completion;
  }

  /** A property as busctl prints it, e.g. `b true`, `s "nbd0"`, `t 67108864`. */
  async property(name: string, iface: string, property: string): Promise<string> {
    return (await this.busctl('get-property', BUS_NAME, this.path(name), iface, property)).trim();
  }

  async active(name: string): Promise<boolean> {
    return (await this.property(name, IFACE.process, 'Active')) === 'b true';
  }

  async readIO(name: string): Promise<number> {
    return Number((await this.property(name, IFACE.stats, 'ReadIO')).replace(/^t /, ''));
  }

  async writeIO(name: string): Promise<number> {
    return Number((await this.property(name, IFACE.stats, 'WriteIO')).replace(/^t /, ''));
  }

  /** The USB serial number of the slot's gadget (while mounted). */
  serial(name: string): string {
    return gadgetAttr(`mass-storage-${name}`, 'strings/0x409/serialnumber');
  }

  /** The disk the VM's USB host sees for the slot's media. */
  hostDisk(name: string, opts: { readOnly?: true } = {}): Promise<HostDisk> {
    return waitForHostDisk(this.serial(name), opts);
  }

  /** SIGKILL: a crashed daemon that leaves its gadgets and NBD links behind. */
  async kill(): Promise<void> {
    process.kill(this.daemon.pid, 'SIGKILL');
    await this.daemon.exited;
    await this.nameReleased();
  }

  /** The bus drops a dead daemon's name a little after its exit; a restart must not see the old owner. */
  private async nameReleased(): Promise<void> {
    await waitFor(
      `the bus to drop ${BUS_NAME} after the daemon died`,
      async () => {
        const [owned] = await this.client.callOn(
          'org.freedesktop.DBus',
          '/org/freedesktop/DBus',
          'org.freedesktop.DBus',
          'NameHasOwner',
          's',
          [BUS_NAME],
        );
        return owned === false;
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  }

  /** Starts the daemon again on the same bus (after stop or kill), with changed options. */
  async restart(changes: Partial<KernelDaemonOptions> = {}): Promise<void> {
    Object.assign(this.opts, changes);
    this.client.close();
    this.daemon = await startDaemon({
      busAddress: this.bus.address,
      config: KernelDaemon.config(this.opts),
      startTimeoutMs: DAEMON_START_TIMEOUT_MS,
      entry: await daemonBundle(),
    });
    this.client = await BusClient.connect(this.bus.address);
  }

  /** SIGTERM (the daemon ejects all media); fails with the daemon's last output if that takes over a minute. */
  async stop(): Promise<void> {
    const stopped = await Promise.race([
      this.daemon.stop().then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 60_000).unref()),
    ]);
    if (!stopped) await this.kill();
    this.client.close();
    await this.bus.stop();
    if (!stopped)
      throw new Error(`the daemon did not stop within 60 s of SIGTERM:\n${this.daemon.output().slice(-4000)}`);
  }
}
