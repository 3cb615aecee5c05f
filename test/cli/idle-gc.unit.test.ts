// collectWhenIdle (src/cli/idle-gc.ts): garbage left by a busy stretch is collected once the
// process is idle, which V8 alone does not do in a process that allocates nothing more.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { collectWhenIdle } from '../../src/cli/idle-gc.js';

const INTERVAL_MS = 100;
/** The registries must live on for their callbacks to run. */
const registries: FinalizationRegistry<string>[] = [];

/** Registers an object nothing keeps; `collected()` turns true once V8 has collected it. */
function garbage(): { collected: () => boolean } {
  let collected = false;
  const registry = new FinalizationRegistry(() => {
    collected = true;
  });
  registries.push(registry);
  registry.register({ payload: new Array<number>(10_000).fill(1) }, 'garbage');
  return { collected: () => collected };
}

async function within(ms: number, done: () => boolean): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (done()) return true;
    await sleep(INTERVAL_MS / 2);
  }
  return done();
}

test('collects after start-up and again after each busy stretch, once idle', async () => {
  const stop = collectWhenIdle({ intervalMs: INTERVAL_MS });
  try {
    const fromStart = garbage();
    assert.ok(await within(20 * INTERVAL_MS, fromStart.collected), 'start-up garbage collected once idle');

    const fromWork = garbage();
    // a busy stretch: several intervals' worth of CPU
    for (const end = Date.now() + 4 * INTERVAL_MS; Date.now() < end;);
    assert.ok(await within(20 * INTERVAL_MS, fromWork.collected), 'garbage of the busy stretch collected once idle');
  } finally {
    stop();
  }
});
