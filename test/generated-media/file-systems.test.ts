// Our ISO 9660 and FAT writers against the tools that know these formats: xorriso reads every
// tree (Rock Ridge, Joliet, plain 8.3), mtools extracts the FAT, fsck.fat finds nothing to fix,
// blkid names the type and label; and the image is a function of (input, nonce) only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fc from 'fast-check';
import {
  buildGeneratedMedia,
  type GeneratedMediaFormat,
  type GeneratedMediaTarget,
} from '../../src/generated-media/index.js';
import { documentFor, NONCE, OTHER_NONCE } from './inputs.js';
import { blkid, extractFat, extractIso, fsckFat, isoPaths, tempDir, writeImage } from './tools.js';

interface InputFile {
  path: string;
  content_base64: string;
}

const file = (p: string, bytes: Buffer): InputFile => ({ path: p, content_base64: bytes.toString('base64') });
/** Deterministic filler: the tests compare bytes, so the content must not be uniform. */
function filler(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 131 + seed + (i >> 11)) & 0xff;
  return bytes;
}

/** Builds, writes and extracts an image; checks the extracted files against `files`. */
async function roundTrip(format: GeneratedMediaFormat, target: GeneratedMediaTarget, files: InputFile[], extra = {}) {
  const document = { ...documentFor(format), files, ...extra };
  const media = buildGeneratedMedia(document, { nonce: NONCE, target });
  const tmp = tempDir();
  try {
    const image = writeImage(tmp.dir, 'media.img', media.image);
    const into = path.join(tmp.dir, 'files');
    const extracted = await (target === 'cd' ? extractIso(image, into) : extractFat(image, into));
    assert.deepEqual([...extracted.keys()].sort(), media.files);
    for (const f of files) assert.ok(extracted.get(f.path)?.equals(Buffer.from(f.content_base64, 'base64')), f.path);
    return {
      media,
      image,
      extracted,
      id: await blkid(image),
      fsck: target === 'usb' ? await fsckFat(image) : '',
      ...tmp,
    };
  } catch (err) {
    tmp.remove();
    throw err;
  }
}

test('ISO: Rock Ridge and Joliet show the real names, the primary tree unique 8.3 names', async () => {
  const files = [
    file('Mixed-Case+Plus.name.tar.gz', filler(10, 1)),
    file('mixed-case+plus.name.tar.bz2', filler(10, 2)),
    file(`deep/${'n'.repeat(62)}/${'f'.repeat(62)}`, filler(3, 3)),
  ];
  const r = await roundTrip('nocloud', 'cd', files);
  try {
    const real = [...r.media.files].sort();
    assert.deepEqual(await isoPaths(r.image, 'rockridge'), real);
    assert.deepEqual(await isoPaths(r.image, 'joliet'), real);
    const plain = await isoPaths(r.image, 'iso9660');
    assert.equal(new Set(plain).size, real.length);
    for (const p of plain)
      for (const part of p.split('/')) assert.match(part, /^[A-Z0-9_]{1,8}(\.[A-Z0-9_]{0,3})?$/, p);
    assert.equal(r.id.TYPE, 'iso9660');
    assert.equal(r.id.VERSION, 'Joliet Extension');
  } finally {
    r.remove();
  }
});

test('ISO: directories over several sectors and files over many', async () => {
  const many = Array.from({ length: 120 }, (_, i) =>
    file(`many/file-with-a-long-name-${String(i).padStart(3, '0')}.conf`, filler(i, i)),
  );
  const r = await roundTrip('config-2', 'cd', [...many, file('big/agent.bin', filler(2 * 1024 * 1024 + 7, 9))]);
  r.remove();
});

test('FAT: the floppy when it fits (fsck.fat clean), a FAT16 stick when it does not', async () => {
  const small = await roundTrip('nocloud', 'usb', [file('certs/ca.pem', filler(100, 1))]);
  try {
    assert.equal(small.media.fileSystem, 'fat12');
    assert.equal(small.media.image.length, 1474560);
    assert.deepEqual(
      [small.id.TYPE, small.id.VERSION, small.id.LABEL, small.id.UUID],
      ['vfat', 'FAT12', 'CIDATA', '0123-4567'],
    );
    assert.match(small.fsck, /\d+ files, \d+\/2847 clusters/);
  } finally {
    small.remove();
  }
  const big = await roundTrip('config-2', 'usb', [file('agent/agent.bin', filler(2 * 1024 * 1024, 5))]);
  try {
    assert.equal(big.media.fileSystem, 'fat16');
    assert.deepEqual([big.id.TYPE, big.id.VERSION, big.id.LABEL], ['vfat', 'FAT16', 'config-2']);
    assert.ok(big.media.image.length < 16 * 1024 * 1024, `a small stick: ${big.media.image.length} bytes`);
  } finally {
    big.remove();
  }
  // more names than the floppy's 224 root entries hold
  const wide = await roundTrip(
    'nocloud',
    'usb',
    Array.from({ length: 150 }, (_, i) => file(`root-file-${i}`, filler(1, i))),
  );
  try {
    assert.equal(wide.media.fileSystem, 'fat16');
  } finally {
    wide.remove();
  }
});

test('FAT: a directory over several clusters, long names, names that clash as 8.3', async () => {
  const files = Array.from({ length: 60 }, (_, i) =>
    file(`dir/Long File Name ${i}.txt`.replaceAll(' ', '_'), filler(700, i)),
  );
  files.push(file('dir/README', filler(5, 1)), file('dir/readme.TXT', filler(5, 2)), file('dir/x.y.z', filler(5, 3)));
  const r = await roundTrip('nocloud', 'usb', files);
  try {
    assert.equal(r.media.fileSystem, 'fat12');
  } finally {
    r.remove();
  }
});

test("floppy: Ironic's ir-vfd-dev with parameters.txt as the agent reads it", async () => {
  const r = await roundTrip('floppy', 'usb', []);
  try {
    assert.deepEqual([r.id.TYPE, r.id.VERSION, r.id.LABEL, r.id.UUID], ['vfat', 'FAT12', 'ir-vfd-dev', '0123-4567']);
    assert.equal(r.media.image.length, 1474560);
    // ironic-python-agent: read().split(), then each item at the first '='
    const text = r.extracted.get('parameters.txt')!.toString();
    const params = Object.fromEntries(
      text.split(/\s+/).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    assert.deepEqual(params, documentFor('floppy').parameters);
    assert.equal(r.extracted.get('vmedia-nonce')!.toString(), `${NONCE}\n`);
  } finally {
    r.remove();
  }
});

test('deterministic: the same input and nonce give the same bytes, another nonce other bytes', () => {
  for (const format of ['config-2', 'nocloud', 'floppy'] as const)
    for (const target of format === 'floppy' ? (['usb'] as const) : (['cd', 'usb'] as const)) {
      const build = (nonce: string) =>
        buildGeneratedMedia(JSON.parse(JSON.stringify(documentFor(format))), { nonce, target });
      const [a, b, c] = [build(NONCE), build(NONCE), build(OTHER_NONCE)];
      assert.ok(a.image.equals(b.image), `${format}/${target} twice`);
      assert.equal(a.sha256, b.sha256);
      assert.notEqual(a.sha256, c.sha256, `${format}/${target} with another nonce`);
    }
});

// random trees of names from the allowed alphabet, compared after a round trip through the tools
const component = fc.stringMatching(/^[A-Za-z0-9_+-]([A-Za-z0-9._+-]{0,60}[A-Za-z0-9_+-])?$/);
const randomFiles = fc
  .uniqueArray(
    fc.record({
      parts: fc.array(component, { minLength: 1, maxLength: 3 }),
      content: fc.uint8Array({ maxLength: 3000 }),
    }),
    { maxLength: 25, selector: (f) => f.parts.join('/').toLowerCase() },
  )
  .map((entries) => {
    // keep a file only where no other file needs its path as a directory (and the reverse)
    const taken = new Set<string>();
    return entries
      .map((e) => ({ path: e.parts.join('/'), content: Buffer.from(e.content) }))
      .filter((f) => {
        const key = f.path.toLowerCase();
        const prefixes = key
          .split('/')
          .slice(0, -1)
          .map((_, i, parts) => parts.slice(0, i + 1).join('/'));
        if (['meta-data', 'user-data', 'vmedia-nonce', 'network-config', 'vendor-data'].includes(key)) return false;
        if (prefixes.some((p) => taken.has(`f:${p}`)) || taken.has(`d:${key}`)) return false;
        taken.add(`f:${key}`);
        prefixes.forEach((p) => taken.add(`d:${p}`));
        return true;
      })
      .map((f) => file(f.path, f.content));
  });

for (const target of ['cd', 'usb'] as const)
  test(`random trees survive a round trip through ${target === 'cd' ? 'xorriso' : 'mtools and fsck.fat'}`, async () => {
    await fc.assert(
      fc.asyncProperty(randomFiles, async (files) => {
        const r = await roundTrip('nocloud', target, files);
        r.remove();
      }),
      { numRuns: 6, seed: 16 },
    );
  });
