// The contract between the mount point and its states (one file per state, docs/state-machine.md).
// A state answers the two client requests (throwing MountError to refuse them) and runs the
// work of its own phase; async results reach the mount point only while the state is current.
import type { Logger } from '../log.js';
import type { SlotConfig } from '../config/types.js';
import type { HostBackend } from '../host/types.js';
import type { SourceProvider } from '../sources/types.js';
import type { CompletionResult, MountPointStatus, MountRequest, StateName } from './types.js';

export interface MountState {
  readonly name: StateName;
  /** Starts the phase's work; called once when the state becomes current. */
  enter(): void;
  /** Stops the phase's timers; called once when another state takes over. */
  leave(): void;
  mount(req: MountRequest): void;
  unmount(): void;
}

export interface MountContext {
  readonly slot: SlotConfig;
  readonly host: HostBackend;
  readonly sources: SourceProvider;
  readonly log: Logger;
  /** Seconds without IO before an Active mount is ejected; 0 = never. */
  readonly inactivityTimeout: number;
  /** How often an Active mount reads its IO counters. */
  readonly statsIntervalMs: number;
  isCurrent(state: MountState): boolean;
  transition(next: MountState): void;
  /** Emits Completion(result) and disarms the Completion timer. */
  complete(result: CompletionResult): void;
  /** (Re)starts the Completion timer: Timeout + 5 s, then Completion(EBUSY). */
  armCompletionTimer(): void;
  update(status: Partial<MountPointStatus>): void;
}
