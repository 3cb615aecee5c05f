// The soak: N mount/unmount cycles per mode against one running service, then the checks that
// catch what a long-lived BMC service must not accumulate. soak.test.ts runs it at 20 cycles a
// mode, soak.long.test.ts at 200 (npm run test:long).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { browserLogin, legacyCycle, proxyCycle, type BrowserLogin } from './cycles.js';
import { startFixture, type Fixture } from './fixture.js';
import { assertSecretsKept } from './secrets.js';
import {
  assertBackAtRest,
  KiB,
  MiB,
  sample,
  slope,
  snapshot,
  type ProcessSample,
  type Sample,
  type Snapshot,
} from './resources.js';

/** Cycles before the baseline: lazy imports, the first TLS session, the first optimised code. */
const WARM_UP_CYCLES = 3;
/**
 * Total heap growth allowed from the baseline: V8 keeps compiling hot code for ~30 cycles (measured
 * ~0.5-1 MiB of code space over 200 cycles), plus what the per-cycle bound below lets through.
 */
const HEAP_GROWTH_BOUND = 3 * MiB;

/**
 * Growth per cycle allowed, fitted over the second half of the cycles (least squares).
 * - Heap and external memory are read right after a forced full GC, so they are exact. A leaked
 *   read-ahead chunk (2 MiB), splice buffer (1 MiB) or NBD read buffer per cycle is ≥ 64 KiB/cycle;
 *   a retained session, socket or closure graph is a few KiB. 20 cycles only get past part of V8's
 *   warm-up (measured: up to 28 KiB/cycle of heap, all compiled code), so the short run catches
 *   buffer-sized leaks; after 100 cycles the heap is flat (measured ≤ 4 KiB/cycle), so the long
 *   run catches a retained object graph.
 * - RSS moves in steps: malloc arenas and V8 pages are taken and given back by the MiB (single
 *   samples move by 7-15 MiB). One 7 MiB step inside a 10-point fit shifts the slope by up to
 *   ~1 MiB/cycle, inside a 100-point fit by ~0.1 MiB/cycle. So the short run's RSS bound (2 MiB)
 *   only catches leaks of whole images, the long run's (128 KiB) a leaked buffer every cycle;
 *   the heap and external bounds are the sharp ones.
 */
function bounds(cycles: number): { heap: number; external: number; rss: number } {
  return cycles >= 100
    ? { heap: 8 * KiB, external: 8 * KiB, rss: 128 * KiB }
    : { heap: 64 * KiB, external: 64 * KiB, rss: 2 * MiB };
}

type Measure = 'heap' | 'external' | 'rss';
type Proc = 'daemon' | 'web';

export interface SoakFigures {
  mode: string;
  cycles: number;
  seconds: number;
  before: Sample;
  after: Sample;
  /** Growth per cycle over the second half, by process and measure. */
  slopes: Record<Proc, Record<Measure, number>>;
}

type Cycle = (i: number) => Promise<void>;

export function defineSoak(cycles: number): void {
  describe(`soak: ${cycles} mount/unmount cycles per mode`, { timeout: cycles * 8_000 + 120_000 }, () => {
    let fx: Fixture;
    let login: BrowserLogin;
    before(async () => {
      fx = await startFixture();
      login = await browserLogin(fx);
    });
    after(() => fx?.close());

    it(`Proxy through the web bridge, ${cycles} cycles (Basic and cookie+XSRF auth; eject and client close): no leak`, async () => {
      await soak(fx, 'Proxy', cycles, (i) =>
        proxyCycle(fx, 'Slot_0', i % 2 === 0 ? 'eject' : 'client-close', i % 4 < 2 ? undefined : login),
      );
    });

    it(`Legacy HTTPS with credentials and a token, ${cycles} cycles (Redfish and D-Bus): no leak`, async () => {
      await soak(fx, 'Legacy', cycles, (i) => legacyCycle(fx, 'Slot_2', i % 2 === 0 ? 'redfish' : 'dbus'));
    });

    it('the image password and the presigned token: in no argv, environ, log line, HTTP response or D-Bus property (the token only where the URL belongs while mounted)', async () => {
      await assertSecretsKept(fx, 'Slot_3');
    });
  });
}

async function soak(fx: Fixture, mode: string, cycles: number, cycle: Cycle): Promise<SoakFigures> {
  for (let i = 0; i < WARM_UP_CYCLES; i++) await cycle(i);
  const base = await snapshot(fx);
  const samples: Sample[] = [];
  const started = performance.now();
  for (let i = 0; i < cycles; i++) {
    await cycle(i);
    samples.push(await sample(fx));
  }
  const seconds = (performance.now() - started) / 1000;
  const end = await snapshot(fx);
  const tail = samples.slice(Math.floor(samples.length / 2));
  const slopes = (proc: Proc) => ({
    heap: slope(tail.map((s) => s[proc].heap)),
    external: slope(tail.map((s) => s[proc].external)),
    rss: slope(tail.map((s) => s[proc].rss)),
  });
  const figures: SoakFigures = {
    mode,
    cycles,
    seconds,
    before: base,
    after: end,
    slopes: { daemon: slopes('daemon'), web: slopes('web') },
  };
  report(figures);
  await assertBackAtRest(fx, base);
  assertMemoryFlat(base, end, figures);
  return figures;
}

function assertMemoryFlat(base: Snapshot, end: Snapshot, f: SoakFigures): void {
  const bound = bounds(f.cycles);
  for (const proc of ['daemon', 'web'] as const) {
    const growth = end[proc].heap - base[proc].heap;
    assert.ok(growth <= HEAP_GROWTH_BOUND, `${proc}: the heap after GC grew by ${mib(growth)} MiB`);
    for (const measure of ['heap', 'external', 'rss'] as const) {
      const perCycle = f.slopes[proc][measure];
      assert.ok(
        perCycle <= bound[measure],
        `${proc}: ${measure} grows ${kib(perCycle)} KiB/cycle (bound ${kib(bound[measure])})`,
      );
    }
  }
}

const mib = (n: number) => (n / MiB).toFixed(2);
const kib = (n: number) => (n / KiB).toFixed(1);

function describeProcess(p: Proc, before: ProcessSample, after: ProcessSample, slopes: Record<Measure, number>) {
  return (
    `${p}: fds ${before.fds}→${after.fds}, heap ${mib(before.heap)}→${mib(after.heap)} MiB (${kib(slopes.heap)} KiB/cycle), ` +
    `external ${mib(before.external)}→${mib(after.external)} MiB (${kib(slopes.external)} KiB/cycle), ` +
    `RSS ${mib(before.rss)}→${mib(after.rss)} MiB (${kib(slopes.rss)} KiB/cycle)`
  );
}

function report(f: SoakFigures): void {
  const procs = (['daemon', 'web'] as const).map((p) => describeProcess(p, f.before[p], f.after[p], f.slopes[p]));
  console.log(`# soak ${f.mode}: ${f.cycles} cycles in ${f.seconds.toFixed(1)} s; ${procs.join('; ')}`);
}
