// Which slots hold a medium: those whose NBD export socket exists. The daemon's export backend
// creates the socket when a Mount makes the slot Active and removes it on eject, and anything
// else serving NBD there (nbdkit, `vmedia nbd serve`) counts the same, so the virtual host
// needs no daemon. inotify on the sockets' directories reports changes at once; a stat every
// second catches what it misses (a directory created later, a socket replaced in one step).
import { mkdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import type { HostSlot } from './slots.js';

/** Slot name → identity of its export socket ("device:inode"), for the slots that have one. */
export type MediaSnapshot = ReadonlyMap<string, string>;

export interface MediaWatch {
  current(): MediaSnapshot;
  /** Calls back with every new snapshot until the returned function is called. */
  subscribe(listener: (snapshot: MediaSnapshot) => void): () => void;
  close(): void;
}

const POLL_MS = 1000;

function socketIdentity(file: string): string | undefined {
  try {
    const st = statSync(file);
    return st.isSocket() ? `${st.dev}:${st.ino}` : undefined;
  } catch {
    return undefined;
  }
}

function sameSnapshot(a: MediaSnapshot, b: MediaSnapshot): boolean {
  return a.size === b.size && [...a].every(([slot, id]) => b.get(slot) === id);
}

export function watchMedia(slots: readonly HostSlot[], log: Logger): MediaWatch {
  const listeners = new Set<(snapshot: MediaSnapshot) => void>();
  const read = (): MediaSnapshot => {
    const present = new Map<string, string>();
    for (const slot of slots) {
      const id = socketIdentity(slot.exportSocket);
      if (id) present.set(slot.name, id);
    }
    return present;
  };
  let snapshot = read();
  const refresh = () => {
    const next = read();
    if (sameSnapshot(snapshot, next)) return;
    snapshot = next;
    log.info({ media: [...next.keys()] }, 'slots with a medium');
    for (const listener of listeners) listener(next);
  };

  const watchers: FSWatcher[] = [];
  for (const dir of new Set(slots.map((s) => path.dirname(s.exportSocket)))) {
    // the daemon creates it on its first attach; creating it first lets it be watched from the start
    mkdirSync(dir, { recursive: true });
    watchers.push(watch(dir, refresh).on('error', (err) => log.warn({ dir, err: err.message }, 'cannot watch')));
  }
  const poll = setInterval(refresh, POLL_MS);
  poll.unref();

  return {
    current: () => snapshot,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      clearInterval(poll);
      for (const w of watchers) w.close();
      listeners.clear();
    },
  };
}
