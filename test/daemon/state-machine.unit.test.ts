// Every state × event cell of the mount point state machine (docs/state-machine.md): the real
// MountPoint and states, driven through the HostBackend and SourceProvider interfaces by a
// scripted backend and provider whose every step the test releases by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { MountError, type ErrnoName } from '../../src/errno.js';
import type { SlotConfig } from '../../src/config/types.js';
import type { HostAttachment, HostBackend } from '../../src/host/types.js';
import type { RunningSource, SourceProvider } from '../../src/sources/types.js';
import { MountPoint } from '../../src/mountpoint/mount-point.js';
import type { CompletionResult, StateName } from '../../src/mountpoint/types.js';
import { waitFor } from '../helpers/wait.js';

const TIMER_MS = 40;

class Gate<T> {
  resolve!: (v: T) => void;
  reject!: (e: unknown) => void;
  readonly promise = new Promise<T>((res, rej) => {
    this.resolve = res;
    this.reject = rej;
  });
}

const slot: SlotConfig = {
  name: 'Slot_2',
  mode: 'legacy',
  endpointId: '',
  nbdDevice: 'nbd2',
  unixSocket: '/nonexistent/nbd2.sock',
  timeout: 30,
  mediaType: 'CD',
};

/** The scripted world one mount point runs against. */
class World {
  readonly completions: CompletionResult[] = [];
  readonly passwords: Uint8Array[] = [];
  startGate?: Gate<void>;
  attachGate?: Gate<void>;
  detachGate?: Gate<void>;
  onSourceExit?: (err: MountError) => void;
  onHostLost?: (err: MountError) => void;
  io = { readBytes: 0, writeBytes: 0, inFlight: 0 };
  detached = 0;
  stopped = 0;
  readonly mp: MountPoint;

  constructor(opts: { inactivityTimeout?: number } = {}) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the fakes below record into this world
    const world = this;
    const sources: SourceProvider = {
      schemes: () => ['https'],
      async start(req, onExit) {
        if (req.credentials) world.passwords.push(req.credentials.password);
        world.onSourceExit = onExit;
        await world.startGate?.promise;
        const running: RunningSource = {
          stop: async () => {
            world.stopped++;
          },
        };
        return running;
      },
      async close() {},
    };
    const host: HostBackend = {
      name: 'scripted',
      async cleanupStale() {},
      async attach(_req, onLost) {
        world.onHostLost = onLost;
        await world.attachGate?.promise;
        const attachment: HostAttachment = {
          stats: () => ({ ...world.io }),
          detach: async () => {
            await world.detachGate?.promise;
            world.detached++;
          },
        };
        return attachment;
      },
      async close() {},
    };
    this.mp = new MountPoint({
      slot,
      host,
      sources,
      log: pino({ level: 'silent' }),
      inactivityTimeout: opts.inactivityTimeout ?? 0,
      statsIntervalMs: 20,
      completionTimerMs: TIMER_MS,
    });
    this.mp.on('completion', (result) => this.completions.push(result));
  }

  mount(): void {
    this.mp.mount({
      url: 'https://127.0.0.1/a.iso',
      writable: false,
      credentials: { user: 'u', password: new TextEncoder().encode('secret') },
    });
  }

  /** Brings the mount point into `state` with the next step held by a gate. */
  async enter(state: StateName): Promise<void> {
    if (state === 'Ready') return;
    if (state === 'Activating') {
      this.startGate = new Gate();
      this.attachGate = new Gate();
      this.mount();
      return;
    }
    this.mount();
    await until('Active', () => this.mp.state === 'Active');
    this.completions.length = 0;
    if (state === 'Deactivating') {
      this.detachGate = new Gate();
      this.mp.unmount();
    }
  }
}

/** Polls a condition of the scripted world; 2 s by default. */
const until = (what: string | (() => string), cond: () => boolean, timeoutMs = 2000) =>
  waitFor(what, cond, { timeoutMs, intervalMs: 5 });

const settle = () => new Promise((r) => setTimeout(r, 10));

async function thrownErrno(act: () => Promise<void> | void): Promise<ErrnoName | undefined> {
  try {
    await act();
  } catch (err) {
    assert.ok(err instanceof MountError, `expected a MountError, got ${String(err)}`);
    assert.ok(err.message.length > 10, 'the error has a message a person understands');
    return err.errno;
  }
  return undefined;
}

/** Lets every gate through so that shutdown() can reach Ready. */
async function release(w: World): Promise<void> {
  for (const gate of [w.startGate, w.attachGate, w.detachGate]) gate?.resolve();
  await w.mp.shutdown();
}

interface Cell {
  state: StateName;
  event: string;
  act: (w: World) => Promise<void> | void;
  throws?: ErrnoName;
  next: StateName;
  completions: CompletionResult[];
}

const cells: Cell[] = [
  // Ready
  {
    state: 'Ready',
    event: 'Mount',
    act: (w) => {
      w.startGate = new Gate();
      w.mount();
    },
    next: 'Activating',
    completions: [],
  },
  { state: 'Ready', event: 'Unmount', act: (w) => w.mp.unmount(), throws: 'EPERM', next: 'Ready', completions: [] },
  {
    state: 'Ready',
    event: 'no Completion timer runs',
    act: () => new Promise((r) => setTimeout(r, TIMER_MS * 2)),
    next: 'Ready',
    completions: [],
  },
  // Activating
  {
    state: 'Activating',
    event: 'host reports device ready',
    act: (w) => {
      w.startGate!.resolve();
      w.attachGate!.resolve();
    },
    next: 'Active',
    completions: [0],
  },
  {
    state: 'Activating',
    event: 'source process exits early',
    act: async (w) => {
      w.startGate!.resolve();
      await settle();
      w.onSourceExit!(new MountError('ECONNRESET', 'nbdkit exited'));
      w.attachGate!.resolve();
    },
    next: 'Ready',
    completions: ['ECONNREFUSED'],
  },
  {
    state: 'Activating',
    event: 'client finds no NBD server',
    act: (w) => {
      w.startGate!.resolve();
      w.attachGate!.reject(new MountError('ECONNREFUSED', 'no NBD server listens'));
    },
    next: 'Ready',
    completions: ['ECONNREFUSED'],
  },
  {
    state: 'Activating',
    event: 'bad URL',
    act: (w) => w.startGate!.reject(new MountError('EINVAL', 'URL scheme "ftp" is not supported')),
    next: 'Ready',
    completions: ['EINVAL'],
  },
  {
    state: 'Activating',
    event: 'spawn failure',
    act: (w) => w.startGate!.reject(new MountError('ECANCELED', 'cannot spawn nbdkit')),
    next: 'Ready',
    completions: ['ECANCELED'],
  },
  { state: 'Activating', event: 'Mount', act: (w) => w.mount(), throws: 'EBUSY', next: 'Activating', completions: [] },
  {
    state: 'Activating',
    event: 'Unmount',
    act: (w) => w.mp.unmount(),
    throws: 'EBUSY',
    next: 'Activating',
    completions: [],
  },
  {
    state: 'Activating',
    event: 'Completion timer fires',
    act: () => undefined,
    next: 'Activating',
    completions: ['EBUSY'],
  },
  // Active
  {
    state: 'Active',
    event: 'Unmount',
    act: (w) => {
      w.detachGate = new Gate();
      w.mp.unmount();
    },
    next: 'Deactivating',
    completions: [],
  },
  { state: 'Active', event: 'Mount', act: (w) => w.mount(), throws: 'EPERM', next: 'Active', completions: [] },
  {
    state: 'Active',
    event: 'process exits',
    act: (w) => {
      w.detachGate = new Gate();
      w.onSourceExit!(new MountError('ECONNRESET', 'nbdkit exited'));
    },
    next: 'Deactivating',
    completions: [],
  },
  {
    state: 'Active',
    event: 'device vanished',
    act: (w) => {
      w.detachGate = new Gate();
      w.onHostLost!(new MountError('ENODEV', 'nbd2 is gone'));
    },
    next: 'Deactivating',
    completions: [],
  },
  {
    state: 'Active',
    event: 'no Completion timer runs',
    act: () => new Promise((r) => setTimeout(r, TIMER_MS * 2)),
    next: 'Active',
    completions: [],
  },
  // Deactivating
  {
    state: 'Deactivating',
    event: 'device removed and process exited',
    act: async (w) => {
      w.detachGate!.resolve();
      await until('the source to be stopped', () => w.stopped === 1);
    },
    next: 'Ready',
    completions: [0],
  },
  {
    state: 'Deactivating',
    event: 'Mount',
    act: (w) => w.mount(),
    throws: 'EBUSY',
    next: 'Deactivating',
    completions: [],
  },
  {
    state: 'Deactivating',
    event: 'Unmount',
    act: (w) => w.mp.unmount(),
    throws: 'EBUSY',
    next: 'Deactivating',
    completions: [],
  },
  {
    state: 'Deactivating',
    event: 'Completion timer fires',
    act: () => undefined,
    next: 'Deactivating',
    completions: ['EBUSY'],
  },
];

for (const cell of cells) {
  const outcome = [
    cell.throws && `error ${cell.throws}`,
    cell.next,
    cell.completions.length > 0 && `Completion(${cell.completions.join(', ')})`,
  ];
  test(`${cell.state} × ${cell.event} → ${outcome.filter(Boolean).join(', ')}`, async (t) => {
    const w = new World();
    t.after(() => release(w));
    await w.enter(cell.state);
    assert.equal(w.mp.state, cell.state);
    const thrown = await thrownErrno(() => cell.act(w));
    assert.equal(thrown, cell.throws);
    // outcomes come asynchronously (gates, timers): wait for the expected state and Completions
    await until(
      () => `${cell.next} and ${cell.completions.length} Completion(s) (now ${w.mp.state}, ${w.completions.length})`,
      () => w.mp.state === cell.next && w.completions.length >= cell.completions.length,
    );
    await settle();
    assert.equal(w.mp.state, cell.next);
    assert.deepEqual(w.completions, cell.completions);
    assert.equal(w.mp.status.active, cell.next === 'Active');
  });
}

test('Active × inactivity timeout → Deactivating → Ready, Completion(0); IO restarts the countdown', async (t) => {
  // the countdown runs on the stats timer (every 20 ms) and Date: both mocked, seconds pass at once;
  // one stats interval per tick (Node 20's mock keeps firing an interval cleared within a tick)
  t.mock.timers.enable({ apis: ['setInterval', 'Date'] });
  const advance = (ms: number) => {
    for (let i = 0; i < ms; i += 20) t.mock.timers.tick(20);
  };
  const w = new World({ inactivityTimeout: 2 });
  t.after(() => release(w));
  await w.enter('Active');
  assert.equal(w.mp.status.remainingInactivityTimeout, 2);
  const states: StateName[] = [];
  w.mp.on('state', (s) => states.push(s));
  advance(1000);
  assert.equal(w.mp.status.remainingInactivityTimeout, 1);
  w.io = { readBytes: 4096, writeBytes: 0, inFlight: 0 };
  advance(20);
  assert.equal(w.mp.status.readBytes, 4096n);
  assert.equal(w.mp.status.remainingInactivityTimeout, 2, 'IO restarts the countdown');
  assert.equal(w.mp.state, 'Active');
  // a host waiting on a slow source: no bytes move, but its request is in flight
  w.io = { readBytes: 4096, writeBytes: 0, inFlight: 1 };
  advance(3000);
  assert.equal(w.mp.state, 'Active', 'a request in flight is not inactivity');
  assert.equal(w.mp.status.remainingInactivityTimeout, 2);
  w.io = { readBytes: 4096, writeBytes: 0, inFlight: 0 };
  advance(1900);
  assert.equal(w.mp.state, 'Active', 'not before 2 s without IO');
  assert.equal(w.mp.status.remainingInactivityTimeout, 1);
  advance(100);
  await until('Ready', () => w.mp.state === 'Ready');
  assert.deepEqual(states, ['Deactivating', 'Ready']);
  assert.deepEqual(w.completions, [0]);
  assert.equal(w.detached, 1);
  assert.equal(w.stopped, 1);
});

test('Deactivating after a loss × teardown done → Ready, Completion(ECONNREFUSED), ExitCode set', async (t) => {
  const w = new World();
  t.after(() => release(w));
  await w.enter('Active');
  assert.equal(w.mp.status.exitCode, -1, 'ExitCode is -1 while running');
  w.onHostLost!(new MountError('ENODEV', 'nbd2 is gone'));
  await until('Ready', () => w.mp.state === 'Ready');
  assert.deepEqual(w.completions, ['ECONNREFUSED']);
  assert.equal(w.mp.status.exitCode, 111);
  assert.equal(w.detached, 1, 'the host attachment is torn down');
  assert.equal(w.stopped, 1, 'the source is stopped');
});

test('the credentials password is zeroed once the source started; properties follow the mount', async (t) => {
  const w = new World();
  t.after(() => release(w));
  await w.enter('Active');
  assert.deepEqual([...w.passwords[0]!], [0, 0, 0, 0, 0, 0]);
  assert.equal(w.mp.status.imageUrl, 'https://127.0.0.1/a.iso');
  assert.equal(w.mp.status.writeProtected, true);
  w.mp.unmount();
  await until('Ready', () => w.mp.state === 'Ready');
  assert.equal(w.mp.status.imageUrl, '');
  assert.equal(w.mp.status.exitCode, 0);
});
