// Kernel uevents of block devices, from `udevadm monitor --kernel --subsystem-match=block
// --property` parsed as a stream. Events only say "look again": the size in sysfs is the truth
// (see size-watch.ts), so a lost event or a dead monitor delays a slot but cannot stick it.
import type { Logger } from '../../log.js';
import type { ProcessRunner, RunningProcess } from '../../process/runner.js';

export interface BlockEvent {
  /** "add", "change", "remove", ... */
  action: string;
  /** Kernel name without /dev, e.g. "nbd0". */
  device: string;
  properties: Readonly<Record<string, string>>;
}

export type BlockEventListener = (event: BlockEvent) => void;

export interface UdevMonitor {
  /** Returns the function that unsubscribes. */
  subscribe(listener: BlockEventListener): () => void;
  close(): Promise<void>;
}

/**
 * Turns udevadm's output lines into events. The format is a header line
 * `KERNEL[12.34] change   /devices/virtual/block/nbd0 (block)`, then KEY=VALUE lines, then a
 * blank line. Lines outside a block (udevadm's banner) are ignored.
 */
export function createUdevEventParser(onEvent: BlockEventListener): (line: string) => void {
  let properties: Record<string, string> | undefined;
  return (line) => {
    if (/^(KERNEL|UDEV)\s*\[/.test(line)) {
      properties = {};
      return;
    }
    if (properties === undefined) return;
    if (line.trim() === '') {
      const event = toEvent(properties);
      properties = undefined;
      if (event) onEvent(event);
      return;
    }
    const eq = line.indexOf('=');
    if (eq > 0) properties[line.slice(0, eq)] = line.slice(eq + 1);
  };
}

function toEvent(properties: Record<string, string>): BlockEvent | undefined {
  const action = properties.ACTION;
  const name = properties.DEVNAME ?? properties.DEVPATH;
  if (!action || !name) return undefined;
  return { action, device: name.slice(name.lastIndexOf('/') + 1), properties };
}

const BANNER = 'monitor will print the received events for:';

/** Starts udevadm and resolves once it listens (its banner is printed after the socket is bound). */
export async function startUdevMonitor(runner: ProcessRunner, log: Logger, udevadm = 'udevadm'): Promise<UdevMonitor> {
  const listeners = new Set<BlockEventListener>();
  const parse = createUdevEventParser((event) => {
    log.debug({ action: event.action, device: event.device }, 'block uevent');
    for (const listener of listeners) listener(event);
  });
  let ready!: () => void;
  const listening = new Promise<void>((resolve) => {
    ready = resolve;
  });
  let closing = false;
  const proc: RunningProcess = await runner.start(
    udevadm,
    ['monitor', '--kernel', '--subsystem-match=block', '--property'],
    {
      onLine: (line, stream) => {
        if (stream === 'stderr') log.warn({ process: 'udevadm' }, line);
        else if (line.startsWith(BANNER)) ready();
        else parse(line);
      },
    },
  );
  void proc.exited.then((exit) => {
    ready();
    if (!closing) log.warn({ exit }, 'udevadm monitor exited: NBD devices are now watched by polling sysfs only');
  });
  const timer = setTimeout(() => {
    log.warn('udevadm monitor printed no banner in 5 s: relying on sysfs polling until it does');
    ready();
  }, 5000);
  await listening;
  clearTimeout(timer);
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closing = true;
      listeners.clear();
      proc.kill();
      await proc.exited;
    },
  };
}
