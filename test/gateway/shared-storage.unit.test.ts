// Shared storage's parts that need no registry: `--storage` parsing, and the database catalog two
// gateways read (two stores on one SQLite file here, as two gateways on one PostgreSQL): a write
// through one is seen by the other's next refresh, a delete too, and the refreshes asked while a
// read is under way do not use it (it may predate a write they follow) but share the next one.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '../../src/gateway/db/sqlite.js';
import type { GatewayStore } from '../../src/gateway/db/store.js';
import { DatabaseCatalog } from '../../src/gateway/repository/image-catalog.js';
import type { ImageMetadata } from '../../src/gateway/repository/image-repository.js';
import { ImageSources } from '../../src/gateway/sources/image-sources.js';
import { OciStorage, parseStorageUrl } from '../../src/gateway/storage/oci-storage.js';

const image = (n: number): ImageMetadata => ({
  id: `${String(n).padStart(8, '0')}-0000-4000-8000-000000000000`,
  name: `i${n}.iso`,
  size: n,
  sha256: String(n % 10).repeat(64),
  mediaType: 'application/x-iso9660-image',
  created: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
  createdBy: 'op',
  grants: [],
  stored: `oci://reg:5000/vmedia/images@sha256:${'a'.repeat(64)}`,
});

describe('shared storage', () => {
  it('--storage takes oci://registry[:port]/repository only', () => {
    assert.deepEqual(parseStorageUrl('oci://reg.lab:5000/vmedia/images'), {
      registry: 'reg.lab:5000',
      repository: 'vmedia/images',
    });
    for (const bad of ['https://reg/x', 'oci://reg', 'oci://reg/Upper', 'oci://reg/x:tag', 'oci://reg/x@sha256:00'])
      assert.throws(() => parseStorageUrl(bad), /--storage: .*oci:\/\/registry\[:port\]\/repository/, bad);
  });

  it("a registry the SSRF guard refuses is the gateway's failure (502), not the uploader's (400)", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-storage-'));
    try {
      const file = path.join(dir, 'upload');
      writeFileSync(file, 'bytes');
      const storage = new OciStorage(parseStorageUrl('oci://127.0.0.1:5000/vmedia/images'), new ImageSources({}));
      await assert.rejects(storage.keep(file, { ...image(1), stored: undefined }), {
        status: 502,
        code: 'SourceFailed',
        message: /^the shared storage: .*AllowedHosts/,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('the database catalog of two gateways', () => {
    let dir: string;
    let stores: GatewayStore[];
    let one: DatabaseCatalog;
    let other: DatabaseCatalog;
    before(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'vmedia-catalog-'));
      stores = [0, 1].map(() => openSqliteStore(path.join(dir, 'gateway.sqlite')));
      [one, other] = stores.map((s) => new DatabaseCatalog(s)) as [DatabaseCatalog, DatabaseCatalog];
    });
    after(async () => {
      for (const s of stores) await s.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("sees the other's writes and deletes at its next refresh, and fresh() at once", async () => {
      await one.write(image(1));
      assert.deepEqual(one.read(image(1).id), image(1), 'the writer sees it at once');
      assert.equal(other.read(image(1).id), undefined, 'the other before it refreshes');
      await other.refresh();
      assert.deepEqual(other.list(), [image(1)]);
      await other.write({ ...image(1), grants: ['bob'] });
      assert.deepEqual((await one.fresh(image(1).id))?.grants, ['bob'], 'fresh() reads the row');
      await one.remove(image(1).id);
      assert.equal(await other.fresh(image(1).id), undefined);
      assert.equal(other.read(image(1).id), undefined, 'fresh() forgets a deleted image');
    });

    it('refreshes asked while one is under way wait for one more read, which they share', async () => {
      await one.write(image(2));
      let reads = 0;
      const listImages = stores[1]!.listImages.bind(stores[1]);
      stores[1]!.listImages = () => {
        reads++;
        return listImages();
      };
      const order: string[] = [];
      const first = other.refresh().then(() => order.push('first'));
      // asked after the first read began: it may predate a write these requests follow
      const asked = [0, 1, 2].map((n) => other.refresh().then(() => order.push(`asked ${n}`)));
      await Promise.all([first, ...asked]);
      assert.equal(reads, 2, 'the read under way and one more for the three asked meanwhile');
      assert.deepEqual(order, ['first', 'asked 0', 'asked 1', 'asked 2']);
      assert.deepEqual(
        other.list().map((m) => m.id),
        [image(2).id],
      );
    });
  });
});
