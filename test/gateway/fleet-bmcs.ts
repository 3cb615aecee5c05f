// The BMCs of the gateway's fleet tests and benchmark: vmedia stacks (own private bus, daemon with
// the export backend, web) whose Legacy CD slot reads the gateway's media server. They run the
// production bundle, built once per process (or the one VMEDIA_TEST_ENTRY names): a bundled start
// costs a fraction of the CPU of tsx compiling the sources, which is what lets 20 stacks start in
// `npm test` on 2 cores. One bus per BMC: each daemon owns the same well-known name.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildBundle } from '../../scripts/bundle.js';
import { stackUsers, startStack, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';
import type { GatewayProcess } from './helpers.js';

const run = promisify(execFile);

export const CD_SLOT = 'Slot_2';

export const bmcName = (i: number) => `bmc-${i}`;

let bundled: Promise<string> | undefined;

/** Makes this process's stacks run the bundle: VMEDIA_TEST_ENTRY's, else one built into a temp dir. */
export function useBundledVmedia(): Promise<string> {
  bundled ??= (async () => {
    if (process.env.VMEDIA_TEST_ENTRY) return process.env.VMEDIA_TEST_ENTRY;
    const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-fleet-bundle-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const { entry } = await buildBundle({ outDir: path.join(dir, 'vmedia'), full: false, minify: false });
    // test/helpers/daemon.ts and stack.ts start this entry instead of the sources under tsx
    process.env.VMEDIA_TEST_ENTRY = entry;
    return entry;
  })();
  return bundled;
}

export interface FleetStartFigures {
  /** Wall time of starting them all. */
  totalMs: number;
  /** Each stack's own start (bus, daemon and web), in start order. */
  perStackMs: number[];
  /** Resident memory of one stack's three processes (bus, daemon, web), in KiB, each stack. */
  rssKiB: number[];
}

export interface Fleet {
  stacks: Stack[];
  figures: FleetStartFigures;
  stop(): Promise<void>;
}

/** Starts `count` BMC stacks from the bundle, at most `parallel` starting at a time. */
export async function startFleet(
  count: number,
  opts: { parallel: number; startTimeoutMs: number; slotTimeout?: number },
): Promise<Fleet> {
  await useBundledVmedia();
  // one users file for the whole fleet: the BMCs share their accounts, and their passwords are
  // hashed once instead of once per BMC
  const usersDir = mkdtempSync(path.join(tmpdir(), 'vmedia-fleet-users-'));
  const users = await stackUsers(path.join(usersDir, 'users.json'));
  const stacks: Stack[] = [];
  const perStackMs: number[] = [];
  const errors: unknown[] = [];
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < count && errors.length === 0) {
      next++;
      const t = performance.now();
      try {
        stacks.push(
          await startStack({
            mediaTypes: { [CD_SLOT]: 'CD' },
            slotTimeout: opts.slotTimeout ?? 30,
            startTimeoutMs: opts.startTimeoutMs,
            users,
          }),
        );
        perStackMs.push(performance.now() - t);
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.parallel, count) }, worker));
  const stop = async () => {
    await Promise.all(stacks.map((s) => s.stop()));
    rmSync(usersDir, { recursive: true, force: true });
  };
  if (errors.length > 0) {
    await stop();
    throw errors[0];
  }
  // the stacks in BMC order are the order they finished starting: any order serves
  const totalMs = performance.now() - t0;
  return { stacks, figures: { totalMs, perStackMs, rssKiB: stacks.map(stackRssKiB) }, stop };
}

function rssOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

/** The stack's dbus-daemon: the process started with its bus address. */
function busPid(stack: Stack): number {
  const arg = `--address=${stack.busAddress}`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(arg)) return Number(entry);
    } catch {
      // a process that ended while the list was read
    }
  }
  throw new Error(`no dbus-daemon with ${arg}`);
}

/** KiB resident in the stack's bus, daemon and web. */
export function stackRssKiB(stack: Stack): number {
  return rssOf(busPid(stack)) + rssOf(stack.daemon.pid) + rssOf(stack.webPid);
}

/**
 * Registers each stack as bmc-<i> through the first gateway (gateways sharing its database see
 * them too), at its own URL or `redfishUrls[i]` (a proxy in front of it); each BMC's image sources
 * trust the media server of every gateway.
 */
export async function registerFleet(stacks: Stack[], gws: GatewayProcess[], redfishUrls?: string[]): Promise<void> {
  const [gw] = gws;
  if (!gw) throw new Error('registerFleet: no gateway');
  await Promise.all(
    stacks.map(async (s, i) => {
      for (const [n, g] of gws.entries()) writeFileSync(path.join(s.trustStore, `gateway-${n}.pem`), g.ca);
      // the daemon copies its trust store to curl's capath and hashes it after a debounce: under
      // load, an InsertMedia right away can find the certificate not there yet (seen with 50 BMCs)
      await waitFor(
        `${s.baseUrl}: the gateways' certificates in the daemon's capath`,
        () => {
          const capath = path.join(s.dir, 'run', 'sources', 'capath', 'current');
          const linked = readdirSync(capath).map((f) => {
            try {
              return readlinkSync(path.join(capath, f));
            } catch {
              return f;
            }
          });
          return gws.every((_g, n) => linked.includes(`gateway-${n}.pem.pem`));
        },
        { timeoutMs: 120_000, intervalMs: 200 },
      );
      const res = await gw.api('/api/bmcs', {
        method: 'POST',
        body: {
          name: bmcName(i),
          redfishUrl: redfishUrls?.[i] ?? s.baseUrl,
          username: s.operator.user,
          password: s.operator.password,
          caPem: s.ca,
        },
      });
      assert.equal(res.status, 201, res.text);
    }),
  );
}

export interface AttachmentRow {
  id: string;
  bmc: string;
  state: string;
  error: string | null;
  bytesServed: number;
}

/**
 * Waits until every attachment of `ids` is in `state` (one that failed fails the wait) and returns
 * them. One list request a poll, not one per attachment: with 20 BMCs, polling each every 250 ms
 * cost the gateway and the test more CPU than the operations polled.
 */
export function waitAttachments(
  gw: GatewayProcess,
  ids: string[],
  state: string,
  timeoutMs: number,
): Promise<AttachmentRow[]> {
  return waitFor(
    () => `every attachment ${state}`,
    async () => {
      const listed = (await gw.api('/api/attachments')).json.attachments as AttachmentRow[];
      const rows = ids.map((id) => listed.find((r) => r.id === id)!);
      const bad = rows.find((r) => r.state === 'failed');
      if (bad) throw new Error(`attachment on ${bad.bmc} failed: ${bad.error}`);
      return rows.every((r) => r.state === state) && rows;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/** Uploads `image` as `name` through the gateway, checked against its sha256; returns its id. */
export async function uploadImage(gw: GatewayProcess, name: string, image: Buffer): Promise<string> {
  const up = await gw.raw(`/api/images?name=${name}`, {
    method: 'POST',
    as: 'operator',
    body: image,
    headers: { 'X-Image-Sha256': createHash('sha256').update(image).digest('hex') },
  });
  assert.equal(up.status, 201, up.body.toString());
  return (JSON.parse(up.body.toString()) as { id: string }).id;
}

/** The fields of /proc/<pid>/stat after the command name: state is [0], ppid [1], utime [11]. */
function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
}

/**
 * CPU seconds spent so far by this process and every process below it: the live ones read from
 * /proc, each with its ended children (the kernel adds a reaped child's time to its parent's).
 * What a scenario costs whatever the machine's load.
 */
export function treeCpuSeconds(): number {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      parentOf.set(Number(entry), Number(statFields(entry)[1]));
    } catch {
      // a process that ended while the list was read
    }
  }
  const inTree = (pid: number): boolean => {
    for (let p = pid; p > 1; p = parentOf.get(p) ?? 0) if (p === process.pid) return true;
    return false;
  };
  let ticks = 0;
  for (const pid of parentOf.keys()) {
    if (!inTree(pid)) continue;
    try {
      const f = statFields(pid);
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      // ended meanwhile: counted in its parent's once reaped
    }
  }
  // USER_HZ is 100 on Linux
  return ticks / 100;
}

/** The CD slot's VirtualMedia member, as the BMC's ReadOnly user reads it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests check its shape with assertions
export async function cdSlot(s: Stack): Promise<any> {
  return (await s.request(`/redfish/v1/Managers/bmc/VirtualMedia/${CD_SLOT}`, { auth: s.readOnly })).json;
}

/** sha256 of what the host reads from the BMC's CD slot (its export socket, through nbdcopy). */
export async function cdExportSha256(s: Stack, imageBytes: number): Promise<string> {
  const socket = s.slots.find((slot) => slot.name === CD_SLOT)!.exportSocket;
  const { stdout } = await run('nbdcopy', [`nbd+unix:///?socket=${socket}`, '-'], {
    encoding: 'buffer',
    maxBuffer: 2 * imageBytes,
  });
  return createHash('sha256').update(stdout).digest('hex');
}

/** Figures as "median m, max n" of milliseconds, in seconds. */
export function spread(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? NaN;
  return `median ${(median / 1000).toFixed(2)} s, max ${((sorted.at(-1) ?? NaN) / 1000).toFixed(2)} s`;
}
