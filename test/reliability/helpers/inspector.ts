// Forced GC and the V8 heap of a running vmedia process, with no hook in the product: the process
// runs with `--inspect=127.0.0.1:0` (NODE_OPTIONS) and this is a Chrome DevTools Protocol client
// on that port. Through it we turn on V8's --expose-gc and keep a handle on `gc` (the console's
// `require` reaches v8 and vm); gc() is one full mark-compact, a third of the time of
// HeapProfiler.collectGarbage's repeated low-memory GCs. Two in a row: Buffers' memory (external)
// is given back by the weak callbacks of the first. heapUsed and external right after are what
// the process retains.
import WebSocket from 'ws';
import { waitFor } from '../../helpers/wait.js';

/** Give every Node process started while this is in the environment an inspector on a free port. */
export const INSPECT_OPTION = '--inspect=127.0.0.1:0';

export interface Inspector {
  /** Bytes of live V8 heap, and of memory held outside it by JS objects (Buffers), after a full GC. */
  memoryAfterGc(): Promise<{ heap: number; external: number }>;
  /** Disconnects: a process with a debugger attached waits for it before exiting. */
  close(): Promise<void>;
}

/** Connects to the inspector whose "Debugger listening on ws://..." line appears in `output()`. */
export async function attachInspector(what: string, output: () => string): Promise<Inspector> {
  const url = await waitFor(
    `${what}'s inspector URL in its output`,
    () => /Debugger listening on (ws:\/\/\S+)/.exec(output())?.[1],
  );
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let nextId = 1;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  ws.on('message', (data: Buffer) => {
    const msg = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
    const waiter = msg.id === undefined ? undefined : pending.get(msg.id);
    if (!waiter) return; // an event
    pending.delete(msg.id!);
    if (msg.error) waiter.reject(new Error(`${what} inspector: ${msg.error.message}`));
    else waiter.resolve(msg.result);
  });
  ws.on('close', () => {
    for (const w of pending.values()) w.reject(new Error(`${what} inspector closed`));
    pending.clear();
  });
  const send = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });

  // a remote handle on gc, valid for this session: nothing is added to the process's globals
  const exposed = (await send('Runtime.evaluate', {
    expression: "require('v8').setFlagsFromString('--expose-gc'), require('vm').runInNewContext('gc')",
    includeCommandLineAPI: true,
  })) as { result: { type: string; objectId?: string } };
  const gcObjectId = exposed.result.objectId;
  if (exposed.result.type !== 'function' || !gcObjectId) throw new Error(`${what}: no gc() through the inspector`);

  return {
    async memoryAfterGc() {
      const called = (await send('Runtime.callFunctionOn', {
        objectId: gcObjectId,
        functionDeclaration:
          'function () { this(); this(); const m = process.memoryUsage(); return { heap: m.heapUsed, external: m.external }; }',
        returnByValue: true,
      })) as { result: { value?: { heap?: unknown; external?: unknown } } };
      const { heap, external } = called.result.value ?? {};
      if (typeof heap !== 'number' || typeof external !== 'number') throw new Error(`${what}: no memory figures`);
      return { heap, external };
    },
    async close() {
      if (ws.readyState === ws.CLOSED) return;
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      ws.close();
      await closed;
    },
  };
}
