// The few web-standard globals that both Node and browsers provide. src/nbd is compiled without
// DOM or Node type libraries (it must not depend on either), so they are typed here once.

interface TimerGlobals {
  setTimeout(cb: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  performance: { now(): number };
}
interface TextGlobals {
  TextEncoder: new () => { encode(s: string): Uint8Array };
  TextDecoder: new (label: string, opts: { fatal: boolean }) => { decode(b: Uint8Array): string };
}
const g = globalThis as unknown as TimerGlobals & TextGlobals;

const encoder = new g.TextEncoder();
const decoder = new g.TextDecoder('utf-8', { fatal: true });

export function utf8Encode(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Decodes UTF-8; undefined when the bytes are not valid UTF-8. */
export function utf8Decode(b: Uint8Array): string | undefined {
  try {
    return decoder.decode(b);
  } catch {
    return undefined;
  }
}

export interface Timer {
  cancel(): void;
}

/** Milliseconds on a clock that never goes back (not wall time). */
export function monotonicMs(): number {
  return g.performance.now();
}

export function startTimer(ms: number, cb: () => void): Timer {
  const handle = g.setTimeout(cb, ms);
  return { cancel: () => g.clearTimeout(handle) };
}
