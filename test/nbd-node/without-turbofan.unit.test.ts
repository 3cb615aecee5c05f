// withoutTurbofan() (src/nbd-node/without-turbofan.ts) must really keep V8 from optimizing, set
// at run time as `vmedia nbd serve` sets it: a hot function is checked with V8's own status bits
// (%GetOptimizationStatus, bit 4 "optimized by TurboFan") in a node started for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const MODULE = path.resolve(import.meta.dirname, '../../src/nbd-node/without-turbofan.ts');
const TURBOFANNED = 1 << 4;

/** The optimization status of a function run hot, in a fresh node; `before` runs first. */
function statusAfterHotLoop(before: string): number {
  const script = `
    ${before}
    function add(a, b) { return a + b; }
    %PrepareFunctionForOptimization(add);
    let s = 0;
    for (let i = 0; i < 1e5; i++) s = add(s, i);
    %OptimizeFunctionOnNextCall(add);
    add(1, 2);
    console.log(%GetOptimizationStatus(add));`;
  const out = execFileSync(
    process.execPath,
    // both under tsx, as the module is TypeScript. Without --no-concurrent-recompilation the hot
    // loop may already have queued a background TurboFan job, and %OptimizeFunctionOnNextCall then
    // leaves `add` "optimizing concurrently" (status bit 10) instead of optimized: a flaky control
    ['--allow-natives-syntax', '--no-concurrent-recompilation', '--import', 'tsx', '--input-type=module', '-e', script],
    { encoding: 'utf8' },
  );
  return Number(out.trim());
}

test('without it, the same hot function is optimized (the check itself works)', () => {
  assert.notEqual(statusAfterHotLoop('') & TURBOFANNED, 0);
});

test('withoutTurbofan() keeps a hot function out of TurboFan', () => {
  const status = statusAfterHotLoop(
    `const { withoutTurbofan } = await import(${JSON.stringify(MODULE)}); withoutTurbofan();`,
  );
  assert.equal(status & TURBOFANNED, 0, `status 0x${status.toString(16)}`);
});
