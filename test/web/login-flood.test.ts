// Unauthenticated CPU exhaustion (finding 7): a flood of logins with random user names must not
// slow a real login down (each used to cost a 32 MiB scrypt), a Basic credential verified moments
// ago is not hashed again, and the hashing gate serves address prefixes in turn.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { GateFull, HashingGate } from '../../src/web/auth/hashing-gate.js';
import type { Credentials } from '../helpers/stack.js';
import { startWebInProcess, type InProcessWeb } from './web-in-process.js';

const ROUNDS = 5;
const FLOOD = 50;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('login flood', { timeout: 120_000 }, () => {
  let w: InProcessWeb;
  const agents: Agent[] = [];
  /** A keep-alive agent with `sockets` connections already open from `from`: no TLS handshake is timed. */
  const warmAgent = async (from: string, sockets: number): Promise<Agent> => {
    const agent = new Agent({ keepAlive: true, maxSockets: sockets });
    agents.push(agent);
    await Promise.all(Array.from({ length: sockets }, () => w.request('/redfish/v1', { agent, from })));
    return agent;
  };

  before(async () => {
    w = await startWebInProcess({ extraUsers: 2 * ROUNDS });
  });
  after(async () => {
    for (const a of agents) a.destroy();
    await w?.stop();
  });

  it(`a correct login during a flood of ${FLOOD} random user names takes at most twice its idle time; a repeated one is not hashed again`, async () => {
    const client = await warmAgent('127.0.0.1', 1);
    /** Milliseconds for a Basic request by `who` (a first login: nothing cached). */
    const timedLogin = async (who: Credentials): Promise<number> => {
      const started = performance.now();
      const r = await w.request('/redfish/v1/Managers', { auth: who, agent: client });
      assert.equal(r.status, 200, r.text);
      return performance.now() - started;
    };
    const idle: number[] = [];
    const flooded: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      idle.push(await timedLogin(w.extra[2 * round]!));
      // each round from an address of its own: every attempt is new to the server
      const from = `127.0.0.${10 + round}`;
      const agent = await warmAgent(from, FLOOD);
      const flood = Promise.all(
        Array.from({ length: FLOOD }, () =>
          w.request('/redfish/v1/Managers', {
            auth: { user: `u-${randomBytes(6).toString('hex')}`, password: 'x' },
            agent,
            from,
          }),
        ),
      );
      flooded.push(await timedLogin(w.extra[2 * round + 1]!));
      for (const r of await flood) assert.ok(r.status === 401 || r.status === 429, `flood answered ${r.status}`);
    }
    const repeated: number[] = [];
    for (let i = 0; i < ROUNDS; i++) repeated.push(await timedLogin(w.extra[0]!));
    const ms = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
    console.log(
      `login ms: idle ${ms(idle)} (median ${median(idle).toFixed(0)}); during the flood ${ms(flooded)} (median ${median(flooded).toFixed(0)}); repeated ${ms(repeated)}`,
    );
    assert.ok(median(flooded) <= 2 * median(idle), `flooded ${median(flooded)} ms vs idle ${median(idle)} ms`);
    assert.ok(median(repeated) < median(idle) / 2, `repeated ${median(repeated)} ms vs idle ${median(idle)} ms`);
  });

  it('the hashing gate runs one hash per address prefix at a time and serves prefixes in turn', async () => {
    const gate = new HashingGate(2, 8);
    const started: string[] = [];
    const task = (name: string, ms: number) => async () => {
      started.push(name);
      await new Promise((r) => setTimeout(r, ms));
      return name;
    };
    const flood = Array.from({ length: 9 }, (_, i) => gate.run('a', task(`a${i}`, 30)));
    await assert.rejects(gate.run('a', task('a-over', 30)), GateFull, 'a prefix may only queue so much');
    const b = gate.run('b', task('b0', 1));
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(started, ['a0', 'b0'], 'b does not wait behind a’s queue; a runs one at a time');
    const c = [gate.run('c', task('c0', 30)), gate.run('c', task('c1', 30))];
    await Promise.all([...flood, b, ...c]);
    assert.deepEqual(started.slice(0, 6), ['a0', 'b0', 'c0', 'a1', 'c1', 'a2'], 'waiting prefixes take turns');
  });
});
