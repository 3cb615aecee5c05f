// One virtual media slot: holds the current state (Ready/Activating/Active/Deactivating), the
// status the D-Bus properties show, and the Completion timer. Clients call mount()/unmount(),
// which throw MountError when the state refuses; outcomes arrive as 'completion' events.
import { EventEmitter } from 'node:events';
import { errnoNumber } from '../errno.js';
import type { Logger } from '../log.js';
import type { SlotConfig } from '../config/types.js';
import type { HostBackend } from '../host/types.js';
import type { SourceProvider } from '../sources/types.js';
import { ReadyState } from './ready.js';
import type { MountContext, MountState } from './state.js';
import type { CompletionResult, MountPointStatus, MountRequest, StateName } from './types.js';
import { completionTimerMs } from '../contract.js';

export interface MountPointOptions {
  slot: SlotConfig;
  host: HostBackend;
  sources: SourceProvider;
  log: Logger;
  /** Seconds; 0 = never eject for inactivity. */
  inactivityTimeout: number;
  statsIntervalMs?: number;
  /** Default (Timeout + 5) s, as on OpenBMC. */
  completionTimerMs?: number;
}

interface MountPointEvents {
  change: [changed: Partial<MountPointStatus>];
  completion: [result: CompletionResult, code: number];
  state: [name: StateName];
}

export class MountPoint implements MountContext {
  readonly slot: SlotConfig;
  readonly host: HostBackend;
  readonly sources: SourceProvider;
  readonly log: Logger;
  readonly inactivityTimeout: number;
  readonly statsIntervalMs: number;
  private readonly completionTimerMs: number;
  private readonly events = new EventEmitter<MountPointEvents>();
  private completionTimer?: NodeJS.Timeout;
  private current: MountState;
  private readonly statusNow: MountPointStatus = {
    imageUrl: '',
    writeProtected: true,
    active: false,
    exitCode: 0,
    remainingInactivityTimeout: 0,
    readBytes: 0n,
    writeBytes: 0n,
  };

  constructor(opts: MountPointOptions) {
    this.slot = opts.slot;
    this.host = opts.host;
    this.sources = opts.sources;
    this.log = opts.log;
    this.inactivityTimeout = opts.inactivityTimeout;
    this.statsIntervalMs = opts.statsIntervalMs ?? 1000;
    this.completionTimerMs = opts.completionTimerMs ?? completionTimerMs(opts.slot.timeout);
    this.current = new ReadyState(this);
    this.current.enter();
  }

  get state(): StateName {
    return this.current.name;
  }

  get status(): Readonly<MountPointStatus> {
    return this.statusNow;
  }

  /** Accepts the request or throws MountError (EBUSY, EPERM, ...); the outcome is a Completion. */
  mount(req: MountRequest): void {
    this.current.mount(req);
  }

  unmount(): void {
    this.current.unmount();
  }

  on<E extends keyof MountPointEvents>(event: E, listener: (...args: MountPointEvents[E]) => void): void {
    this.events.on(event, listener as never);
  }

  /** Ejects whatever is mounted (waiting for a mount in progress first); resolves in Ready. */
  async shutdown(): Promise<void> {
    while (this.state !== 'Ready') {
      if (this.state === 'Active') this.unmount();
      await new Promise<void>((resolve) => this.events.once('state', () => resolve()));
    }
    clearTimeout(this.completionTimer);
  }

  // MountContext: what the states use

  isCurrent(state: MountState): boolean {
    return this.current === state;
  }

  transition(next: MountState): void {
    this.log.debug({ from: this.current.name, to: next.name }, 'state change');
    this.current.leave();
    this.current = next;
    next.enter();
    this.events.emit('state', next.name);
  }

  complete(result: CompletionResult): void {
    clearTimeout(this.completionTimer);
    this.completionTimer = undefined;
    const code = result === 0 ? 0 : errnoNumber(result);
    // ExitCode stays -1 while media is up; it reports how the last mount ended
    if (this.current.name === 'Ready') this.update({ exitCode: code });
    this.events.emit('completion', result, code);
  }

  armCompletionTimer(): void {
    clearTimeout(this.completionTimer);
    this.completionTimer = setTimeout(() => {
      this.completionTimer = undefined;
      this.log.warn({ state: this.state }, 'operation still running after Timeout + 5 s');
      this.events.emit('completion', 'EBUSY', errnoNumber('EBUSY'));
    }, this.completionTimerMs);
  }

  update(status: Partial<MountPointStatus>): void {
    const changed: Partial<MountPointStatus> = {};
    for (const key of Object.keys(status) as (keyof MountPointStatus)[]) {
      if (status[key] === this.statusNow[key]) continue;
      Object.assign(changed, { [key]: status[key] });
      Object.assign(this.statusNow, { [key]: status[key] });
    }
    if (Object.keys(changed).length > 0) this.events.emit('change', changed);
  }
}
