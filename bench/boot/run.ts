// Boot benchmark of the whole virtual BMC (a script, not a test):
//   npx tsx bench/boot/run.ts [--runs 3] [--latency-ms 20] [--pad-mib 64]
// Time from the medium arriving to the guest's marker on the serial console, two ways, alternated
// in the same run on the same VM (`vmedia host`'s QEMU, SeaBIOS):
//   https      Redfish InsertMedia into the Legacy CD slot (Slot_2) with an HTTPS URL, then the
//              Boot override Cd/Once (PATCH) and ComputerSystem.Reset On; the image server waits
//              --latency-ms before answering each HTTP request (its latencyMs switch: the kernel
//              here has no netem, and tc needs privileges the bench must not take)
//   reference  the same ISO served from the local file by `nbdkit file` on Slot_2's export socket
//              (what the VM's CD drive reads when the slot holds a medium), then the same override
//              and Reset On
// The ISO is the e2e GRUB ISO (prints the marker, halts) padded with a random file to --pad-mib.
// Printed: both medians, their ratio, the daemon's CPU-seconds during each HTTPS boot
// (utime+stime from /proc/PID/stat; and with its live descendants, e.g. nbdkit curl) and the
// body bytes the image server sent per boot.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { waitFor } from '../../test/helpers/wait.js';
import { startImageServer } from '../../test/sources/helpers/image-server.js';
import { createTestCa } from '../../test/sources/helpers/test-ca.js';
import { randomImage } from '../../test/sources/helpers/provider.js';
import { MARKER, markerCount } from '../../test/virtual-host/stack.js';
import { startVirtualBmc } from '../../test/e2e/helpers/virtual-bmc.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'latency-ms': { type: 'string', default: '20' },
    'pad-mib': { type: 'string', default: '64' },
  },
});
const runs = Number(values.runs);
const latencyMs = Number(values['latency-ms']);
const padMib = Number(values['pad-mib']);

const SLOT = '/redfish/v1/Managers/bmc/VirtualMedia/Slot_2';
const SYSTEM = '/redfish/v1/Systems/system';
const TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** The e2e GRUB ISO (marker on the serial console, then halt) with a padding file. */
async function makePaddedIso(dir: string): Promise<string> {
  const tree = path.join(dir, 'iso-tree');
  mkdirSync(path.join(tree, 'boot/grub'), { recursive: true });
  writeFileSync(
    path.join(tree, 'boot/grub/grub.cfg'),
    ['serial', 'terminal_input serial', 'terminal_output serial', `echo ${MARKER}`, 'halt', ''].join('\n'),
  );
  await randomImage(path.join(tree, 'pad.bin'), padMib);
  const iso = path.join(dir, 'boot.iso');
  execFileSync(
    'grub-mkrescue',
    ['-o', iso, '--install-modules=normal serial terminal echo halt', '--locales=', '--fonts=', '--themes=', tree],
    { stdio: 'pipe' },
  );
  return iso;
}

/** utime+stime of `pid` in seconds; with its live descendants when `tree`. */
function cpuSeconds(pid: number, tree = false): number {
  let ticks = 0;
  const visit = (p: number) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
      if (!tree) return;
      for (const task of execFileSync('ls', [`/proc/${p}/task`])
        .toString()
        .split('\n')
        .filter(Boolean)) {
        const children = readFileSync(`/proc/${p}/task/${task}/children`, 'utf8').trim();
        for (const c of children ? children.split(' ') : []) visit(Number(c));
      }
    } catch {
      // gone meanwhile
    }
  };
  visit(pid);
  return ticks / TICKS;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-bench-boot-'));
const ca = createTestCa(path.join(dir, 'ca'));
console.log(`building the GRUB ISO padded with ${padMib} MiB…`);
const iso = await makePaddedIso(dir);
const isoMib = readFileSync(iso).length / 2 ** 20;
const images = await startImageServer({
  files: new Map([['/boot.iso', iso]]),
  tls: { key: ca.serverKey, cert: ca.serverCert },
  host: '127.0.0.1',
  switches: { latencyMs },
});
const imageUrl = `${images.origin}/boot.iso`;
const bmc = await startVirtualBmc({ mediaTypes: { Slot_2: 'CD', Slot_3: 'CD' }, slotTimeout: 30 });
copyFileSync(ca.caCertFile, path.join(bmc.stack.trustStore, 'image-server-ca.pem'));
const exportSocket = bmc.stack.slots.find((s) => s.name === 'Slot_2')!.exportSocket;

async function redfish(pathname: string, method: string, body: unknown): Promise<void> {
  const res = await bmc.stack.request(pathname, { method, body, auth: bmc.stack.operator });
  if (res.status >= 300) throw new Error(`${method} ${pathname}: ${res.status} ${JSON.stringify(res.json)}`);
}

async function powerState(): Promise<string> {
  return (await bmc.stack.request(SYSTEM, { auth: bmc.stack.operator })).json.PowerState as string;
}

/** Boot override Cd/Once, Reset On, wait for one more marker; then wait for GRUB's halt (power Off). */
async function bootOnce(before: number): Promise<number> {
  await redfish(SYSTEM, 'PATCH', {
    Boot: { BootSourceOverrideTarget: 'Cd', BootSourceOverrideEnabled: 'Once', BootSourceOverrideMode: 'Legacy' },
  });
  await redfish(`${SYSTEM}/Actions/ComputerSystem.Reset`, 'POST', { ResetType: 'On' });
  await waitFor(
    () => `the boot marker; vmedia host said:\n${bmc.hostOutput().slice(-3000)}`,
    () => markerCount(bmc.consoleLog) > before,
    { timeoutMs: 180_000, intervalMs: 20 },
  );
  return performance.now();
}

async function waitOff(): Promise<void> {
  await waitFor('the VM off after GRUB halts', async () => (await powerState()) === 'Off', {
    timeoutMs: 60_000,
    intervalMs: 200,
  });
}

interface HttpsRun {
  seconds: number;
  cpu: number;
  cpuTree: number;
  bytes: number;
  requests: number;
}

async function httpsRun(): Promise<HttpsRun> {
  const before = markerCount(bmc.consoleLog);
  const pid = bmc.stack.daemon.pid;
  const cpu0 = cpuSeconds(pid);
  const tree0 = cpuSeconds(pid, true);
  const bytes0 = images.bytesSent();
  const requests0 = images.requests.length;
  const started = performance.now();
  await redfish(`${SLOT}/Actions/VirtualMedia.InsertMedia`, 'POST', { Image: imageUrl, Inserted: true });
  const ended = await bootOnce(before);
  const run = {
    seconds: (ended - started) / 1000,
    cpu: cpuSeconds(pid) - cpu0,
    cpuTree: cpuSeconds(pid, true) - tree0,
    bytes: images.bytesSent() - bytes0,
    requests: images.requests.length - requests0,
  };
  await waitOff();
  await redfish(`${SLOT}/Actions/VirtualMedia.EjectMedia`, 'POST', {});
  return run;
}

async function referenceRun(): Promise<number> {
  const before = markerCount(bmc.consoleLog);
  const started = performance.now();
  const nbdkit: ChildProcess = spawn('nbdkit', ['-f', '--unix', exportSocket, '--readonly', 'file', iso], {
    stdio: 'ignore',
  });
  try {
    await waitFor(`nbdkit on ${exportSocket}`, () => existsSync(exportSocket), { timeoutMs: 10_000, intervalMs: 5 });
    const ended = await bootOnce(before);
    await waitOff();
    return (ended - started) / 1000;
  } finally {
    nbdkit.kill('SIGTERM');
    await new Promise((resolve) => (nbdkit.exitCode === null ? nbdkit.once('exit', resolve) : resolve(null)));
    rmSync(exportSocket, { force: true });
  }
}

try {
  console.log(`ISO ${isoMib.toFixed(1)} MiB; HTTPS with ${latencyMs} ms per request; ${runs} runs each, alternated`);
  const https: HttpsRun[] = [];
  const local: number[] = [];
  for (let i = 0; i < runs; i++) {
    const l = await referenceRun();
    local.push(l);
    const h = await httpsRun();
    https.push(h);
    console.log(
      `  run ${i + 1}: local ${l.toFixed(2)} s, https ${h.seconds.toFixed(2)} s ` +
        `(daemon CPU ${h.cpu.toFixed(2)} s, with descendants ${h.cpuTree.toFixed(2)} s, ` +
        `${(h.bytes / 2 ** 20).toFixed(2)} MiB in ${h.requests} requests served)`,
    );
  }
  const mh = median(https.map((h) => h.seconds));
  const ml = median(local);
  console.log(`SeaBIOS, InsertMedia/nbdkit → marker:`);
  console.log(`  reference (nbdkit file, local)  median ${ml.toFixed(2)} s`);
  console.log(
    `  HTTPS +${latencyMs} ms/request           median ${mh.toFixed(2)} s  (${(mh / ml).toFixed(2)}× reference)`,
  );
  console.log(
    `  daemon CPU during HTTPS boot    median ${median(https.map((h) => h.cpu)).toFixed(2)} s ` +
      `(with descendants ${median(https.map((h) => h.cpuTree)).toFixed(2)} s)`,
  );
  console.log(
    `  image server bytes per boot     median ${(median(https.map((h) => h.bytes)) / 2 ** 20).toFixed(2)} MiB ` +
      `in median ${median(https.map((h) => h.requests))} requests`,
  );
} finally {
  await bmc.stop();
  await images.close();
  rmSync(dir, { recursive: true, force: true });
}
