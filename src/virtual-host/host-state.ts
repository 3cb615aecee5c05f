// The host's power state machine, kept as phosphor-state-manager keeps host0 and chassis0, with
// one QEMU process (machine.ts) as the hardware. Chassis and host are one power domain, as with
// x86-power-control: chassis power is on exactly while QEMU runs. Requests run one at a time in
// the order they came, as systemd runs phosphor's targets; a request that finds the host
// already where it asks is a no-op. A reset (ours, the guest's) boots a new QEMU; the guest
// powering off ends in Off like a power-off request.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log.js';
import type { Machine } from './machine.js';
import type { ChassisTransition, HostState, HostTransition, PowerState, RestartCause } from '../dbus/phosphor.js';

export type HostTransitionName = keyof typeof HostTransition;
export type ChassisTransitionName = keyof typeof ChassisTransition;

export interface PowerStatus {
  host: keyof typeof HostState;
  power: keyof typeof PowerState;
  restartCause: keyof typeof RestartCause;
  /** When `power` last changed, ms since the epoch (Chassis.LastStateChangeTime). */
  lastPowerChangeMs: number;
}

export interface VirtualHostOptions {
  /** Starts one machine with the boot settings and media of this moment. */
  boot(): Promise<Machine>;
  /** How long the guest has to power off after the ACPI power button before it is forced off. */
  gracefulOffMs: number;
  log: Logger;
}

/** The Chassis.Transition.PowerCycle contract: "a 5 second delay between the off and the on". */
const POWER_CYCLE_DELAY_MS = 5_000;
/** How long QEMU has to exit after `quit` or a reset before it is killed. */
const QUIT_TIMEOUT_MS = 10_000;

/** True when `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timeout = new AbortController();
  const settled = await Promise.race([
    promise.then(() => true),
    sleep(ms, false, { signal: timeout.signal, ref: false }).catch(() => false),
  ]);
  timeout.abort();
  return settled;
}

export class VirtualHost {
  private status: PowerStatus = { host: 'Off', power: 'Off', restartCause: 'Unknown', lastPowerChangeMs: Date.now() };
  /** The machine that is the host now; an operation that stops it on purpose lets go of it first. */
  private machine: Machine | undefined;
  /** Every QEMU still running, including one being stopped: what close() ends. */
  private readonly live = new Set<Machine>();
  private queue = Promise.resolve();
  private closed = false;
  private readonly listeners = new Set<(changed: Partial<PowerStatus>) => void>();

  constructor(private readonly opts: VirtualHostOptions) {}

  get current(): Readonly<PowerStatus> {
    return this.status;
  }

  /** Calls back with the fields of every change. */
  onChange(listener: (changed: Partial<PowerStatus>) => void): void {
    this.listeners.add(listener);
  }

  requestHost(transition: HostTransitionName): void {
    this.enqueue(`host ${transition}`, () => this.hostTransition(transition));
  }

  requestChassis(transition: ChassisTransitionName): void {
    this.enqueue(`chassis ${transition}`, () => this.chassisTransition(transition));
  }

  /** Forces every QEMU off; requests still queued are dropped. */
  async close(): Promise<void> {
    this.closed = true;
    this.machine = undefined;
    await Promise.all([...this.live].map((m) => this.forceOff(m)));
  }

  private enqueue(request: string, operation: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      if (this.closed) return;
      this.opts.log.info({ request }, 'power request');
      try {
        await operation();
      } catch (err) {
        this.opts.log.error({ request, err: (err as Error).message }, 'power request failed');
      }
    });
  }

  private async hostTransition(transition: HostTransitionName): Promise<void> {
    switch (transition) {
      case 'On':
        return this.powerOn();
      case 'Off':
        return this.powerOff(true);
      case 'Reboot':
        await this.powerOff(true);
        return this.powerOn();
      case 'GracefulWarmReboot':
        return this.warmReboot(true);
      case 'ForceWarmReboot':
        return this.warmReboot(false);
    }
  }

  private async chassisTransition(transition: ChassisTransitionName): Promise<void> {
    switch (transition) {
      case 'On':
        return this.powerOn();
      case 'Off':
        return this.powerOff(false);
      case 'PowerCycle':
        if (this.machine) {
          await this.powerOff(false);
          await sleep(POWER_CYCLE_DELAY_MS);
        }
        return this.powerOn();
    }
  }

  private async powerOn(): Promise<void> {
    if (this.machine) return;
    this.update({ host: 'TransitioningToRunning', power: 'TransitioningToOn' });
    await this.boot('RemoteCommand');
  }

  /** Graceful: the ACPI power button first, as the host's soft-off; forced: the plug. */
  private async powerOff(graceful: boolean): Promise<void> {
    const machine = this.machine;
    if (!machine) return;
    this.machine = undefined;
    this.update(
      graceful ? { host: 'TransitioningToOff' } : { host: 'TransitioningToOff', power: 'TransitioningToOff' },
    );
    if (graceful) await this.shutDown(machine);
    else await this.forceOff(machine);
    this.update({ host: 'Off', power: 'Off' });
  }

  /** Chassis power stays on: the host stops (gracefully or by the reset button) and boots again. */
  private async warmReboot(graceful: boolean): Promise<void> {
    const machine = this.machine;
    if (!machine) return this.powerOn();
    this.machine = undefined;
    this.update({ host: 'TransitioningToRunning' });
    if (graceful) {
      await this.shutDown(machine);
    } else {
      await machine.reset().catch(() => undefined);
      if (!(await settlesWithin(machine.exited, QUIT_TIMEOUT_MS))) await this.forceOff(machine);
    }
    await this.boot('RemoteCommand');
  }

  private async boot(cause: PowerStatus['restartCause']): Promise<void> {
    let machine: Machine;
    try {
      machine = await this.opts.boot();
    } catch (err) {
      this.opts.log.error({ err: (err as Error).message }, 'the host did not power on');
      this.update({ host: 'Off', power: 'Off' });
      return;
    }
    this.live.add(machine);
    void machine.exited.then((exit) => {
      this.live.delete(machine);
      if (this.machine !== machine) return; // stopped on purpose: the operation that did it reports
      this.machine = undefined;
      if (exit.reset) {
        this.opts.log.info({ reason: exit.reason }, 'the host was reset: booting again');
        this.enqueue('reset', async () => {
          if (this.machine) return;
          this.update({ host: 'TransitioningToRunning' });
          await this.boot(exit.reason === 'guest-reset' ? 'SoftReset' : 'ResetButton');
        });
      } else {
        this.opts.log.info({ reason: exit.reason }, 'the host powered off');
        this.update({ host: 'Off', power: 'Off' });
      }
    });
    if (this.closed) {
      await this.forceOff(machine);
      return;
    }
    this.machine = machine;
    this.update({ host: 'Running', power: 'On', restartCause: cause });
  }

  /** ACPI power button; the plug when the guest has not powered off within gracefulOffMs. */
  private async shutDown(machine: Machine): Promise<void> {
    await machine.powerdown().catch(() => undefined);
    if (await settlesWithin(machine.exited, this.opts.gracefulOffMs)) return;
    this.opts.log.warn(`the guest did not power off within ${this.opts.gracefulOffMs / 1000} s: forcing it off`);
    await this.forceOff(machine);
  }

  private async forceOff(machine: Machine): Promise<void> {
    await machine.quit();
    if (!(await settlesWithin(machine.exited, QUIT_TIMEOUT_MS))) machine.kill();
    await machine.exited;
  }

  private update(patch: Partial<PowerStatus>): void {
    const changed: Partial<PowerStatus> = {};
    for (const [key, value] of Object.entries(patch) as [keyof PowerStatus, never][]) {
      if (this.status[key] !== value) changed[key] = value;
    }
    if (changed.power !== undefined) changed.lastPowerChangeMs = Date.now();
    if (Object.keys(changed).length === 0) return;
    this.status = { ...this.status, ...changed };
    for (const listener of this.listeners) listener(changed);
  }
}
