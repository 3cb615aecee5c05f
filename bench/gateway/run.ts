// Gateway benchmark (a script, not a test):
//   npx tsx bench/gateway/run.ts [--bmcs 10] [--readers 50] [--image-mib 64]
// 1. Fleet: --bmcs vmedia BMCs (bus + daemon with the export backend + web each) behind one
//    `vmedia gateway` process; one uploaded image attached to all in parallel. Per BMC: attach
//    latency (POST until `attached`) and first-byte latency (POST until a 4 KiB read of the BMC's
//    export returned, through nbdkit curl and the media server). The gateway's RSS (VmRSS) before
//    the attachments and with all of them attached, per attachment.
// 2. Throughput: --readers concurrent curl downloads of the whole image from the media server
//    (each with its own attachment's URL and credentials), against the same number of curl
//    downloads of the same file from a plain Node HTTPS file server (no token, no auth, no
//    database): aggregate MB/s of each and their ratio. Both servers run in this process, one at a
//    time; the media server's RSS growth while serving, per reader.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs, promisify } from 'node:util';
import { pino } from 'pino';
import { mediaUrl, newMediaAccess } from '../../src/gateway/attachments/access.js';
import { openSqliteStore } from '../../src/gateway/db/sqlite.js';
import { createMediaServer } from '../../src/gateway/media-server/media-server.js';
import { ImageRepository } from '../../src/gateway/repository/image-repository.js';
import { ImageSources } from '../../src/gateway/sources/image-sources.js';
import { SourceImages } from '../../src/gateway/sources/source-images.js';
import { loadTlsIdentity } from '../../src/web/tls.js';
import { startGatewayProcess } from '../../test/gateway/helpers.js';
import { startStack, type Stack } from '../../test/helpers/stack.js';
import { waitFor } from '../../test/helpers/wait.js';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    bmcs: { type: 'string', default: '10' },
    readers: { type: 'string', default: '50' },
    'image-mib': { type: 'string', default: '64' },
  },
});
const bmcCount = Number(values.bmcs);
const readers = Number(values.readers);
const imageBytes = Number(values['image-mib']) * 1024 * 1024;
const MiB = 1024 * 1024;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const rssKiB = (pid: number | 'self') =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);

async function fleet(image: Buffer): Promise<void> {
  const stacks: Stack[] = [];
  const gw = await startGatewayProcess();
  try {
    const t0 = performance.now();
    for (let i = 0; i < bmcCount; i += 2)
      stacks.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(2, bmcCount - i) }, () =>
            startStack({ mediaTypes: { Slot_2: 'CD' }, slotTimeout: 60, startTimeoutMs: 180_000 }),
          ),
        )),
      );
    console.log(`started ${bmcCount} BMCs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const [i, s] of stacks.entries()) {
      writeFileSync(path.join(s.trustStore, 'gateway.pem'), gw.ca);
      await gw.api('/api/bmcs', {
        method: 'POST',
        body: {
          name: `bmc-${i}`,
          redfishUrl: s.baseUrl,
          username: s.operator.user,
          password: s.operator.password,
          caPem: s.ca,
        },
      });
    }
    const up = await gw.raw('/api/images?name=bench.iso', { method: 'POST', as: 'operator', body: image });
    const imageId = (JSON.parse(up.body.toString()) as { id: string }).id;
    const rssBefore = rssKiB(gw.pid());

    const started = performance.now();
    const attached: number[] = [];
    const firstByte: number[] = [];
    await Promise.all(
      stacks.map(async (_s, i) => {
        const t = performance.now();
        const res = await gw.api('/api/attachments', {
          method: 'POST',
          as: 'operator',
          body: { bmc: `bmc-${i}`, device: 'cd', image: imageId },
        });
        const id = res.json.id as string;
        let failure = '';
        await waitFor(
          `attachment on bmc-${i}`,
          async () => {
            const a = (await gw.api(`/api/attachments/${id}`)).json as { state: string; error: string };
            if (a.state === 'failed') failure = a.error;
            return a.state === 'attached' || a.state === 'failed';
          },
          { timeoutMs: 600_000, intervalMs: 50 },
        );
        if (failure) throw new Error(`bmc-${i}: ${failure}`);
        attached.push(performance.now() - t);
        // the first byte as the host sees it: one 4 KiB read of the BMC's export (nbdkit curl
        // fetches it from the media server on demand)
        const socket = stacks[i]!.slots.find((slot) => slot.name === 'Slot_2')!.exportSocket;
        // Debian's python3 has the nbd module nbdsh needs (a python3 earlier on PATH may not)
        await run('nbdsh', ['-u', `nbd+unix:///?socket=${socket}`, '-c', 'h.pread(4096, 0)'], {
          env: { ...process.env, PATH: `/usr/bin:/bin:${process.env.PATH ?? ''}` },
        });
        firstByte.push(performance.now() - t);
      }),
    );
    const rssAfter = rssKiB(gw.pid());
    console.log(
      `attach: ${bmcCount} BMCs in ${((performance.now() - started) / 1000).toFixed(1)} s; per BMC median ${(median(attached) / 1000).toFixed(2)} s, max ${(Math.max(...attached) / 1000).toFixed(2)} s`,
    );
    console.log(
      `first byte read from the export: median ${(median(firstByte) / 1000).toFixed(2)} s, max ${(Math.max(...firstByte) / 1000).toFixed(2)} s`,
    );
    console.log(
      `gateway RSS: ${(rssBefore / 1024).toFixed(1)} MiB idle, ${(rssAfter / 1024).toFixed(1)} MiB with ${bmcCount} attached: ${((rssAfter - rssBefore) / bmcCount).toFixed(0)} KiB per attachment`,
    );
  } finally {
    await gw.stop();
    await Promise.all(stacks.map((s) => s.stop()));
  }
}

/** Wall time of `readers` concurrent curl downloads of `url` (each with its own credentials). */
async function curlAll(ca: string, targets: { url: string; user?: string }[]): Promise<number> {
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

async function throughput(image: Buffer, dir: string): Promise<void> {
  const tls = await loadTlsIdentity({ runtimeDir: dir });
  const caPath = tls.certPath;
  const store = openSqliteStore(path.join(dir, 'bench.sqlite'));
  const repository = new ImageRepository(path.join(dir, 'images'), imageBytes * 2);
  const meta = await repository.upload(Readable.from([image]), { name: 'bench.iso', createdBy: 'bench' });
  await store.addBmc({
    name: 'b',
    redfishUrl: 'https://127.0.0.1:1',
    username: 'u',
    password: 'p',
    caPem: tls.cert,
    createdAt: '',
    createdBy: 'bench',
  });

  const listen = async (server: Server) => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const sourceImages = new SourceImages(repository, new ImageSources({}));
  const media = createMediaServer({ store, repository, sourceImages, tls, log: pino({ level: 'silent' }) });
  const mediaBase = await listen(media);
  const targets: { url: string; user: string }[] = [];
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
    await store.createAttachment({ id, bmc: `r${i}`, device: 'cd', imageId: meta.id, createdBy: 'bench' });
    const access = newMediaAccess(id);
    await store.updateAttachment(id, {
      state: 'attached',
      tokenHash: access.tokenHash,
      passwordHash: access.passwordHash,
      expiresAt: Date.now() + 3_600_000,
    });
    targets.push({ url: mediaUrl(mediaBase, access.token, meta.name), user: `${access.username}:${access.password}` });
  }
  const rssIdle = rssKiB('self');
  let rssPeak = rssIdle;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssKiB('self'))), 50);
  const mediaSeconds = await curlAll(caPath, targets);
  clearInterval(sampler);
  media.close();

  const file = repository.file(meta);
  const plain = createServer({ cert: tls.cert, key: tls.key }, (_req, res) => {
    res.writeHead(200, { 'Content-Length': String(statSync(file.path).size) });
    createReadStream(file.path).pipe(res);
  });
  const plainBase = await listen(plain);
  const plainSeconds = await curlAll(
    caPath,
    targets.map(() => ({ url: `${plainBase}/bench.iso` })),
  );
  plain.close();
  await store.close();

  const total = (readers * imageBytes) / MiB;
  const mediaRate = total / mediaSeconds;
  const plainRate = total / plainSeconds;
  console.log(
    `${readers} concurrent readers of ${imageBytes / MiB} MiB: media server ${mediaRate.toFixed(0)} MB/s, plain HTTPS file server ${plainRate.toFixed(0)} MB/s, ratio ${(mediaRate / plainRate).toFixed(2)}`,
  );
  console.log(`media server RSS growth while serving: ${((rssPeak - rssIdle) / readers).toFixed(0)} KiB per reader`);
}

const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-bench-gateway-'));
try {
  const image = randomBytes(imageBytes);
  console.log(
    `image ${imageBytes / MiB} MiB, sha256 ${createHash('sha256').update(image).digest('hex').slice(0, 16)}…`,
  );
  await throughput(image, dir);
  if (bmcCount > 0) await fleet(image);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
