// Gateway benchmark (a script, not a test):
//   npx tsx bench/gateway/run.ts [--bmcs 50] [--readers 50] [--image-mib 64] [--gateway-log FILE]
// 1. Throughput: --readers concurrent readers of the whole image, four ways, one at a time:
//    curl from the media server (each with its own attachment's URL and credentials); curl from a
//    plain Node HTTPS file server (no token, no auth, no database); `nbdkit curl` of each, read
//    whole with nbdcopy (what a BMC's Legacy slot does: one nbdkit per BMC). Aggregate MB/s of
//    each, the ratios to the plain server's, the serving CPU-s per GiB (this process's CPU time:
//    the clients' is not in it, so it does not depend on the load), and the media server's RSS
//    growth per reader. Both servers run in this process. MB are 10^6 bytes.
// 2. Fleet: --bmcs vmedia BMCs (bus + daemon with the export backend + web each, from the bundle:
//    test/gateway/fleet-bmcs.ts) behind one `vmedia gateway` process; one uploaded image attached
//    to all in parallel. Their start time and RSS; per BMC the attach latency (POST until
//    `attached`) and first-byte latency (POST until a 4 KiB read of the BMC's export returned,
//    through nbdkit curl and the media server). The gateway's RSS (VmRSS) idle (before the
//    attachments, after a settle), with all of them attached (after the first bytes), per
//    attachment, and after they are all detached; its CPU-s for the attaches. The load average is
//    printed at each step.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs, promisify } from 'node:util';
import { pino } from 'pino';
import { mediaUrl } from '../../src/gateway/attachments/access.js';
import { openSqliteStore } from '../../src/gateway/db/sqlite.js';
import { createMediaServer } from '../../src/gateway/media-server/media-server.js';
import { ServedBytes } from '../../src/gateway/media-server/served-bytes.js';
import { ImageRepository } from '../../src/gateway/repository/image-repository.js';
import { ImageSources } from '../../src/gateway/sources/image-sources.js';
import { SourceImages } from '../../src/gateway/sources/source-images.js';
import { loadTlsIdentity } from '../../src/web/tls.js';
import {
  bmcName,
  CD_SLOT,
  registerFleet,
  spread,
  startFleet,
  uploadImage,
  type Fleet,
} from '../../test/gateway/fleet-bmcs.js';
import { startGatewayProcess } from '../../test/gateway/helpers.js';
import { storeAttached } from '../../test/gateway/stored-attachment.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    bmcs: { type: 'string', default: '50' },
    readers: { type: 'string', default: '50' },
    'image-mib': { type: 'string', default: '64' },
    /** Where the gateway's log (JSON lines, with times) is written once the fleet part ends. */
    'gateway-log': { type: 'string' },
  },
});
const bmcCount = Number(values.bmcs);
const readers = Number(values.readers);
const imageBytes = Number(values['image-mib']) * 1024 * 1024;
const MiB = 1024 * 1024;

const rssKiB = (pid: number | 'self') =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
/** utime + stime of a process, in seconds (its children are not counted). */
const cpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // fields 14 and 15 of stat(5), counted from the state (field 3): clock ticks of 1/100 s
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
/** This process's CPU seconds (user + system) while `work` runs, and its result. */
async function withCpu<T>(work: () => Promise<T>): Promise<{ value: T; cpuS: number }> {
  const before = process.cpuUsage();
  const value = await work();
  const used = process.cpuUsage(before);
  return { value, cpuS: (used.user + used.system) / 1e6 };
}
const settle = () => new Promise((resolve) => setTimeout(resolve, 2000));
const load = () =>
  `load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`;
// Debian's nbdsh and nbdcopy (a python3 earlier on PATH may lack the nbd module nbdsh needs)
const toolEnv = { ...process.env, PATH: `/usr/bin:/bin:${process.env.PATH ?? ''}` };

async function fleet(image: Buffer): Promise<void> {
  let bmcs: Fleet | undefined;
  const gw = await startGatewayProcess();
  try {
    bmcs = await startFleet(bmcCount, { parallel: 4, startTimeoutMs: 300_000, slotTimeout: 60 });
    const { figures, stacks } = bmcs;
    const rss = [...figures.rssKiB].sort((a, b) => a - b);
    console.log(
      `started ${bmcCount} BMCs (4 at a time) in ${(figures.totalMs / 1000).toFixed(1)} s; one BMC's start ${spread(figures.perStackMs)}; ` +
        `RSS of bus + daemon + web median ${(rss[rss.length >> 1]! / 1024).toFixed(1)} MiB, all ${(rss.reduce((a, b) => a + b, 0) / 1024).toFixed(0)} MiB (${load()})`,
    );
    await registerFleet(stacks, [gw]);
    const imageId = await uploadImage(gw, 'bench.iso', image);
    // the upload's buffers freed or not: a moment for the gateway to go idle
    await settle();
    const rssBefore = rssKiB(gw.pid());
    const cpuBefore = cpuSeconds(gw.pid());

    const started = performance.now();
    const posted = await Promise.all(
      stacks.map(async (stack, i) => {
        const t = performance.now();
        const res = await gw.api('/api/attachments', {
          method: 'POST',
          as: 'operator',
          body: { bmc: bmcName(i), device: 'cd', image: imageId },
        });
        return { id: res.json.id as string, t, stack, bmc: bmcName(i) };
      }),
    );
    const attached: number[] = [];
    const firstByte: number[] = [];
    const reads: Promise<void>[] = [];
    // one list request a poll for all of them: polling each attachment (50 every 50 ms) loaded
    // the gateway it measures
    const waiting = new Map(posted.map((p) => [p.id, p]));
    while (waiting.size > 0) {
      if (performance.now() - started > 600_000) throw new Error(`not attached: ${[...waiting.keys()].join(', ')}`);
      const rows = (await gw.api('/api/attachments?state=attached,failed')).json.attachments as {
        id: string;
        state: string;
        error: string;
      }[];
      for (const row of rows) {
        const p = waiting.get(row.id);
        if (!p) continue;
        waiting.delete(row.id);
        if (row.state === 'failed') throw new Error(`${p.bmc}: ${row.error}`);
        attached.push(performance.now() - p.t);
        // the first byte as the host sees it: one 4 KiB read of the BMC's export (nbdkit curl
        // fetches it from the media server on demand)
        const socket = p.stack.slots.find((slot) => slot.name === CD_SLOT)!.exportSocket;
        reads.push(
          run('nbdsh', ['-u', `nbd+unix:///?socket=${socket}`, '-c', 'h.pread(4096, 0)'], { env: toolEnv }).then(() => {
            firstByte.push(performance.now() - p.t);
          }),
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await Promise.all(reads);
    const attachCpu = cpuSeconds(gw.pid()) - cpuBefore;
    await settle();
    const rssAfter = rssKiB(gw.pid());
    console.log(
      `attach: ${bmcCount} BMCs in ${((performance.now() - started) / 1000).toFixed(1)} s; per BMC ${spread(attached)}; ` +
        `gateway ${attachCpu.toFixed(2)} CPU-s, ${((attachCpu / bmcCount) * 1000).toFixed(0)} ms per attach with its first read (${load()})`,
    );
    console.log(`first byte read from the export: ${spread(firstByte)}`);
    console.log(
      `gateway RSS: ${(rssBefore / 1024).toFixed(1)} MiB idle, ${(rssAfter / 1024).toFixed(1)} MiB with ${bmcCount} attached: ${((rssAfter - rssBefore) / bmcCount).toFixed(0)} KiB per attachment`,
    );
    await Promise.all(posted.map((p) => gw.api(`/api/attachments/${p.id}`, { method: 'DELETE', as: 'operator' })));
    const detachStart = performance.now();
    while ((await gw.api('/api/attachments?state=attaching,attached,detaching')).json.attachments.length > 0) {
      if (performance.now() - detachStart > 600_000) throw new Error('the attachments were not all detached');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const detachS = (performance.now() - detachStart) / 1000;
    await settle();
    console.log(
      `detach: all in ${detachS.toFixed(1)} s; gateway RSS then ${(rssKiB(gw.pid()) / 1024).toFixed(1)} MiB (${load()})`,
    );
  } finally {
    await gw.stop();
    if (values['gateway-log']) writeFileSync(values['gateway-log'], gw.output());
    await bmcs?.stop();
  }
}

interface Target {
  url: string;
  /** user:password, for the media server. */
  user?: string;
}

/** Wall seconds of every target read whole at once, each by its own curl. */
async function curlAll(ca: string, targets: Target[]): Promise<number> {
  const t = performance.now();
  await Promise.all(
    targets.map(({ url, user }) =>
      run('curl', ['-sS', '--fail', '--cacert', ca, '-o', '/dev/null', ...(user ? ['--user', user] : []), url], {
        maxBuffer: 1 << 20,
      }),
    ),
  );
  return (performance.now() - t) / 1000;
}

/**
 * Wall seconds of every target read whole at once, each through its own `nbdkit curl` (as a BMC's
 * Legacy slot reads it) by nbdcopy. The password goes in a file (nbdkit's password=+FILE), not argv.
 */
async function nbdkitAll(dir: string, ca: string, targets: Target[]): Promise<number> {
  const t = performance.now();
  await Promise.all(
    targets.map(({ url, user }, i) => {
      const auth: string[] = [];
      if (user) {
        const [name, password] = [user.slice(0, user.indexOf(':')), user.slice(user.indexOf(':') + 1)];
        const file = path.join(dir, `password-${i}`);
        writeFileSync(file, password, { mode: 0o600 });
        auth.push(`user=${name}`, `password=+${file}`);
      }
      return run(
        'nbdkit',
        ['-U', '-', 'curl', `url=${url}`, `cainfo=${ca}`, ...auth, '--run', 'nbdcopy "$uri" null:'],
        { env: toolEnv, maxBuffer: 1 << 20 },
      );
    }),
  );
  return (performance.now() - t) / 1000;
}

async function throughput(image: Buffer, dir: string): Promise<void> {
  const tls = await loadTlsIdentity({ runtimeDir: dir });
  const caPath = tls.certPath;
  const store = openSqliteStore(path.join(dir, 'bench.sqlite'));
  const repository = new ImageRepository(path.join(dir, 'images'), imageBytes * 2);
  const meta = await repository.upload(Readable.from([image]), { name: 'bench.iso', createdBy: 'bench' });

  const listen = async (server: Server) => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const sourceImages = new SourceImages(repository, new ImageSources({}));
  const log = pino({ level: 'silent' });
  const served = new ServedBytes(store, log);
  const media = createMediaServer({ store, repository, sourceImages, tls, log, served });
  const mediaBase = await listen(media);
  const targets: Target[] = [];
  for (let i = 0; i < readers; i++) {
    // one attachment per reader (a database allows one live attachment per BMC and device)
    const id = `${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`;
    await store.addBmc({
      name: `r${i}`,
      redfishUrl: 'https://127.0.0.1:1',
      username: 'u',
      password: 'p',
      caPem: tls.cert,
      createdAt: '',
      createdBy: 'bench',
    });
    const access = await storeAttached(
      store,
      { id, bmc: `r${i}`, device: 'cd', imageId: meta.id, createdBy: 'bench' },
      3_600_000,
    );
    targets.push({ url: mediaUrl(mediaBase, access.token, meta.name), user: `${access.username}:${access.password}` });
  }

  // the repository's local storage keeps an image's bytes in <dir>/<id>
  const file = { path: path.join(repository.dir, meta.id) };
  const plain = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const size = statSync(file.path).size;
    // nbdkit curl reads by Range: one range of the form bytes=a-b is enough for it
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (!range) {
      res.writeHead(200, { 'Content-Length': String(size), 'Accept-Ranges': 'bytes' });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file.path).pipe(res);
      return;
    }
    const [start, end] = [Number(range[1]), Math.min(Number(range[2]), size - 1)];
    res.writeHead(206, { 'Content-Length': String(end - start + 1), 'Content-Range': `bytes ${start}-${end}/${size}` });
    createReadStream(file.path, { start, end }).pipe(res);
  });
  const plainBase = await listen(plain);
  const plainTargets = targets.map(() => ({ url: `${plainBase}/bench.iso` }));

  const rssIdle = rssKiB('self');
  let rssPeak = rssIdle;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssKiB('self'))), 50);
  const mediaCurl = await withCpu(() => curlAll(caPath, targets));
  clearInterval(sampler);
  const plainCurl = await withCpu(() => curlAll(caPath, plainTargets));
  const mediaNbdkit = await withCpu(() => nbdkitAll(dir, caPath, targets));
  const plainNbdkit = await withCpu(() => nbdkitAll(dir, caPath, plainTargets));
  const runs = { mediaCurl, plainCurl, mediaNbdkit, plainNbdkit };
  const seconds = Object.fromEntries(Object.entries(runs).map(([k, r]) => [k, r.value])) as Record<
    keyof typeof runs,
    number
  >;
  media.close();
  plain.close();
  await served.stop();
  await store.close();

  const totalBytes = readers * imageBytes;
  const rate = (s: number) => totalBytes / 1e6 / s;
  const ratio = (s: number) => (seconds.plainCurl / s).toFixed(2);
  const line = (label: string, r: { value: number; cpuS: number }, ratioText: string) =>
    console.log(
      `  ${label.padEnd(27)}${rate(r.value).toFixed(0)} MB/s (${ratioText}), server ${(r.cpuS / (totalBytes / 1024 ** 3)).toFixed(2)} CPU-s/GiB`,
    );
  console.log(
    `${readers} concurrent readers of ${imageBytes / MiB} MiB, aggregate (ratio to the plain server by curl), ${load()}:`,
  );
  line('media server, curl:', mediaCurl, ratio(seconds.mediaCurl));
  line('plain HTTPS server, curl:', plainCurl, '1');
  line('media server, nbdkit curl:', mediaNbdkit, ratio(seconds.mediaNbdkit));
  line('plain server, nbdkit curl:', plainNbdkit, ratio(seconds.plainNbdkit));
  console.log(
    `media server RSS growth while serving curl: ${((rssPeak - rssIdle) / readers).toFixed(0)} KiB per reader`,
  );
}

const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-bench-gateway-'));
try {
  const image = randomBytes(imageBytes);
  console.log(
    `image ${imageBytes / MiB} MiB, sha256 ${createHash('sha256').update(image).digest('hex').slice(0, 16)}… (${load()})`,
  );
  await throughput(image, dir);
  if (bmcCount > 0) await fleet(image);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
