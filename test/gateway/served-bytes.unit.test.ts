// Bytes served are counted in memory and written to the database by flush() (every second) and
// stop(): nothing is lost at a clean stop, and a database that refuses a write keeps the count for
// the next flush.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { GatewayStore } from '../../src/gateway/db/store.js';
import { ServedBytes } from '../../src/gateway/media-server/served-bytes.js';

/** A store that records addBytesServed and refuses it while `refuse` is set. */
function countingStore() {
  const written = new Map<string, number>();
  const state = { refuse: false, writes: 0 };
  const store = {
    addBytesServed: (id: string, bytes: number) => {
      if (state.refuse) return Promise.reject(new Error('database is locked'));
      state.writes++;
      written.set(id, (written.get(id) ?? 0) + bytes);
      return Promise.resolve();
    },
  } as unknown as GatewayStore;
  return { store, written, state };
}

const log = pino({ level: 'silent' });

describe('gateway served bytes', () => {
  it('adds many requests of an attachment in one write, and writes the rest at stop', async () => {
    const { store, written, state } = countingStore();
    const served = new ServedBytes(store, log, 3_600_000);
    for (let i = 0; i < 100; i++) served.add('a', 4096);
    served.add('b', 10);
    await served.flush();
    assert.deepEqual(Object.fromEntries(written), { a: 409_600, b: 10 });
    assert.equal(state.writes, 2);
    served.add('a', 1);
    await served.stop();
    assert.equal(written.get('a'), 409_601);
  });

  it('keeps a count the database refused for the next flush', async () => {
    const { store, written, state } = countingStore();
    const served = new ServedBytes(store, log, 3_600_000);
    served.add('a', 100);
    state.refuse = true;
    await served.flush();
    assert.equal(written.get('a'), undefined);
    state.refuse = false;
    served.add('a', 5);
    await served.stop();
    assert.equal(written.get('a'), 105);
  });

  it("writes the counts before the API's reads of attachments, and only then", async () => {
    const { store, written, state } = countingStore();
    const reads = {
      ...store,
      getAttachment: (id: string) => Promise.resolve({ id, bytesServed: written.get(id) ?? 0 }),
      listAttachments: () => Promise.resolve([...written].map(([id, bytesServed]) => ({ id, bytesServed }))),
      findAttachmentByToken: () => Promise.resolve(undefined),
    } as unknown as GatewayStore;
    const served = new ServedBytes(reads, log, 3_600_000);
    const counted = served.countedBeforeReads(reads);
    served.add('a', 4096);
    assert.equal((await counted.getAttachment('a'))?.bytesServed, 4096);
    served.add('a', 1);
    assert.deepEqual(
      (await counted.listAttachments()).map((a) => a.bytesServed),
      [4097],
    );
    // the media server's own lookups do not write
    served.add('a', 1);
    const writes = state.writes;
    await counted.findAttachmentByToken('t');
    assert.equal(state.writes, writes);
    await served.stop();
  });

  it('writes on its own every flush interval', async () => {
    const { store, written } = countingStore();
    const served = new ServedBytes(store, log, 20);
    served.add('a', 7);
    const deadline = Date.now() + 5000;
    while (written.get('a') !== 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await served.stop();
    assert.equal(written.get('a'), 7);
  });
});
