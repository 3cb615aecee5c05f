// One private dbus-daemon per test file, in a temp dir removed afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startPrivateBus, type PrivateBus } from '../../src/dbus/private-bus.js';

export interface TestBus extends PrivateBus {
  dir: string;
}

export async function startTestBus(): Promise<TestBus> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-bus-'));
  const bus = await startPrivateBus(path.join(dir, 'bus.sock'));
  return {
    ...bus,
    dir,
    async stop() {
      await bus.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
