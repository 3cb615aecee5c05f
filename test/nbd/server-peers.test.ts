// Our NBD server (`vmedia nbd serve`) read and written by real peers: nbdinfo, nbdcopy,
// qemu-img and nbdsh (libnbd).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  makeTempDir,
  nbdsh,
  repoRoot,
  run,
  sha256File,
  startOurServer,
  writeRandomFile,
  type Child,
} from './helpers.js';

const IMAGE_BYTES = 256 * 1024 * 1024;

describe('our server with libnbd and qemu peers', () => {
  const tmp = makeTempDir();
  const image = path.join(tmp.dir, 'image.raw');
  let ro: Child;
  let imageSha = '';

  before(async () => {
    await writeRandomFile(image, IMAGE_BYTES);
    imageSha = await sha256File(image);
    ro = await startOurServer(image, tmp.dir, { readOnly: true });
  });
  after(async () => {
    await ro?.stop();
    tmp.remove();
  });

  test('nbdinfo shows the size and the flags', async () => {
    const { stdout } = await run('nbdinfo', ['--json', ro.uri]);
    const info = JSON.parse(stdout);
    assert.equal(info.protocol, 'newstyle-fixed');
    assert.equal(info.TLS, false);
    assert.equal(info.structured, true);
    const e = info.exports[0];
    assert.equal(e['export-name'], '');
    assert.equal(e['export-size'], IMAGE_BYTES);
    assert.equal(e.is_read_only, true);
    assert.equal(e.can_flush, true);
    assert.equal(e.can_multi_conn, true);
    assert.equal(e.can_cache, true);
    assert.equal(e.can_df, true);
    assert.equal(e.can_trim, false);
    assert.equal(e.can_zero, false);
    assert.equal(e.block_size_maximum, 32 * 1024 * 1024);
  });

  test('nbdinfo --list lists the export', async () => {
    const { stdout } = await run('nbdinfo', ['--list', '--json', ro.uri]);
    assert.deepEqual(
      JSON.parse(stdout).exports.map((e: { 'export-name': string }) => e['export-name']),
      [''],
    );
  });

  test('nbdcopy reads the 256 MiB image with 4 connections; sha256 matches', async () => {
    const out = path.join(tmp.dir, 'copy.raw');
    await run('nbdcopy', ['--connections=4', '--requests=16', ro.uri, out]);
    assert.equal(await sha256File(out), imageSha);
  });

  test('qemu-img compare finds the export identical to the file', async () => {
    const { stdout } = await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', image, ro.uri]);
    assert.match(stdout, /Images are identical/);
  });

  test('nbdsh probes: past the end, zero length, unaligned, 64 in flight, write on read-only', async () => {
    const bytes = readFileSync(image);
    const out = await nbdsh(
      ro.uri,
      `
import errno, json
r = {}
h.set_strict_mode(0)  # send what libnbd would refuse itself: the server must answer
try:
    h.pread(4096, h.get_size() - 1024)
    r['past_end'] = 'no error'
except nbd.Error as e:
    r['past_end'] = e.errno
r['after_error'] = h.pread(16, 0).hex()
r['zero_length'] = len(h.pread(0, 1000))
r['unaligned'] = h.pread(1000, 12345).hex()
bufs = [nbd.Buffer(4096) for _ in range(64)]
cookies = [h.aio_pread(bufs[i], i * 3000001 + 1) for i in range(64)]
r['in_flight'] = h.aio_in_flight()
while h.aio_in_flight() > 0:
    h.poll(-1)
r['in_flight_ok'] = all(h.aio_command_completed(c) for c in cookies)
r['bufs'] = [b.to_bytearray()[:8].hex() for b in bufs]
try:
    h.pwrite(b'x' * 512, 0)
    r['write'] = 'no error'
except nbd.Error as e:
    r['write'] = e.errno
print(json.dumps(r))
`,
      tmp.dir,
    );
    const r = JSON.parse(out);
    assert.equal(r.past_end, 'EINVAL', 'read past the end → EINVAL');
    assert.equal(r.after_error, bytes.subarray(0, 16).toString('hex'), 'the connection stays usable');
    assert.equal(r.zero_length, 0);
    assert.equal(r.unaligned, bytes.subarray(12345, 12345 + 1000).toString('hex'));
    assert.equal(r.in_flight, 64);
    assert.equal(r.in_flight_ok, true);
    assert.deepEqual(
      r.bufs,
      Array.from({ length: 64 }, (_, i) => bytes.subarray(i * 3000001 + 1, i * 3000001 + 9).toString('hex')),
    );
    assert.equal(r.write, 'EPERM', 'write on a read-only export → EPERM');
  });
});

describe('vmedia nbd serve: bad input', () => {
  test('a missing file, a missing listen address and a bad port each fail with a clear message', async () => {
    const cli = ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'nbd', 'serve'];
    const fails = async (args: string[], message: RegExp) => {
      const err = await run(process.execPath, [...cli, ...args], { cwd: repoRoot }).then(
        () => undefined,
        (e: { code: number; stderr: string }) => e,
      );
      assert.ok(err, `vmedia nbd serve ${args.join(' ')} should fail`);
      assert.equal(err.code, 1);
      assert.match(err.stderr, message);
    };
    await Promise.all([
      fails(['/nonexistent/image.raw', '--port', '0'], /cannot open \/nonexistent\/image.raw: ENOENT/),
      fails(['/dev/null'], /give --socket PATH or --port N/),
      fails(['/dev/null', '--port', '70000'], /--port must be 0\.\.65535/),
      fails(['/dev/null', '--port', '0'], /\/dev\/null is not a regular file/),
    ]);
  });
});

describe('our server, writable', () => {
  const tmp = makeTempDir();
  after(() => tmp.remove());

  test('nbdcopy writes an image into the export; flush, zero and trim work; file matches', async () => {
    const src = path.join(tmp.dir, 'src.raw');
    const target = path.join(tmp.dir, 'target.raw');
    await writeRandomFile(src, 16 * 1024 * 1024);
    await writeRandomFile(target, 16 * 1024 * 1024);
    const rw = await startOurServer(target, tmp.dir, { readOnly: false });
    try {
      await run('nbdcopy', ['--flush', src, rw.uri]);
      assert.equal(await sha256File(target), await sha256File(src));
      const out = await nbdsh(
        rw.uri,
        `
import json
r = {'can_zero': h.can_zero(), 'can_trim': h.can_trim(), 'can_fua': h.can_fua()}
h.zero(65536, 4096, nbd.CMD_FLAG_FUA)
h.trim(4096, 0)
h.pwrite(b'abc', 10, nbd.CMD_FLAG_FUA)
h.flush()
h.cache(4096, 0)
r['zeroed'] = h.pread(16, 65536 + 4000).hex()
r['written'] = h.pread(3, 10).decode()
print(json.dumps(r))
`,
        tmp.dir,
      );
      const r = JSON.parse(out);
      assert.deepEqual([r.can_zero, r.can_trim, r.can_fua], [true, true, true]);
      assert.equal(r.zeroed, '0'.repeat(32));
      assert.equal(r.written, 'abc');
      const file = readFileSync(target);
      assert.equal(
        file.subarray(65536, 65536 + 4096).every((b) => b === 0),
        true,
      );
      assert.equal(file.subarray(10, 13).toString(), 'abc');
    } finally {
      await rw.stop();
    }
  });
});
