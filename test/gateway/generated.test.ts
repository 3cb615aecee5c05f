// Generated media through the gateway against a real vmedia BMC: a config drive (CD, ISO 9660) and
// a NoCloud stick (USB, FAT) built in the gateway from the generator's documents are read back from
// the BMC's export sockets byte for byte as the generator builds them with the attachment's nonce;
// the secret in the documents is in no API answer, no log line and no database file; no image
// route shows the images; they are removed once detached; bad documents are 400s.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildGeneratedMedia } from '../../src/generated-media/index.js';
import { waitFor } from '../helpers/wait.js';
import { startGatewayWithBmc, BMC, type GatewayWithBmc } from './one-bmc.js';

const run = promisify(execFile);
const SECRET = `pw-${randomBytes(12).toString('hex')}`;

const documents = {
  cd: {
    format: 'config-2',
    meta_data: { uuid: '83679162-1378-4288-a2d4-70e13ec132aa', hostname: 'node-1.example.net' },
    user_data: { chpasswd: { expire: false, users: [{ name: 'root', password: SECRET, type: 'text' }] } },
  },
  usb: {
    format: 'nocloud',
    meta_data: { uuid: 'node-2' },
    user_data: `#!/bin/sh\necho 'root:${SECRET}' | chpasswd\n`,
  },
} as const;

/** Every file under `dir` except those under `skip`. */
function filesUnder(dir: string, skip: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (p === skip) return [];
    return e.isDirectory() ? filesUnder(p, skip) : [p];
  });
}

describe('gateway: generated media', { timeout: 180_000 }, () => {
  let t: GatewayWithBmc;
  const answers: string[] = [];

  const api: GatewayWithBmc['gw']['api'] = async (pathname, opts) => {
    const res = await t.gw.api(pathname, opts);
    answers.push(res.text);
    return res;
  };

  before(async () => {
    t = await startGatewayWithBmc();
  });
  after(() => t?.stop());

  it('refuses bad documents with a 400 naming the property', async () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ generated: { format: 'config-2' } }, /^generated.*meta_data/],
      [{ generated: { format: 'floppy', parameters: { a: 'b' } }, device: 'cd' }, /FAT only: attach it to a USB slot/],
      [{ generated: { ...documents.cd, eject_after: 60 } }, /eject_after is not taken by the gateway: give a window/],
      [{ generated: 'config-2' }, /generated: a generated-media document/],
      [{ generated: documents.cd, image: 'x' }, /image or generated, not both/],
    ];
    for (const [body, message] of bad) {
      const res = await api('/api/attachments', {
        method: 'POST',
        as: 'operator',
        body: { bmc: BMC, device: 'cd', ...body },
      });
      assert.equal(res.status, 400, res.text);
      assert.match(res.json.error.message, message);
    }
  });

  it('builds the image in the gateway and the BMC serves it byte for byte; the secret stays in the image', async () => {
    const ids = await Promise.all(
      (['cd', 'usb'] as const).map(async (device) => {
        const res = await api('/api/attachments', {
          method: 'POST',
          as: 'operator',
          body: { bmc: BMC, device, generated: documents[device] },
        });
        assert.equal(res.status, 202, res.text);
        assert.match(res.json.generated.nonce, /^[0-9a-f]{32}$/);
        return res.json.id as string;
      }),
    );
    for (const [i, device] of (['cd', 'usb'] as const).entries()) {
      const row = await t.waitState(ids[i]!, 'attached');
      const expected = buildGeneratedMedia(documents[device], { nonce: row.generated!.nonce, target: device });
      const { stdout } = await run('nbdcopy', [`nbd+unix:///?socket=${t.exportSocket(device)}`, '-'], {
        encoding: 'buffer',
        maxBuffer: 2 * expected.image.length,
      });
      assert.equal(stdout.length, expected.image.length, `${device}: size`);
      assert.ok(stdout.equals(expected.image), `${device}: the export is the generator's ${expected.fileSystem} image`);
      assert.ok(expected.image.includes(SECRET), `${device}: the image does hold the secret`);
    }
    const imageIds = await Promise.all(
      ids.map(
        // as an admin: a reader sees no image id of another's generated media (per-image ACLs)
        async (id) => ((await api(`/api/attachments/${id}`, { as: 'admin' })).json as { imageId: string }).imageId,
      ),
    );
    for (const imageId of imageIds) {
      assert.ok(imageId, 'an admin sees the generated image’s id');
      assert.equal((await api(`/api/images/${imageId}`, { as: 'admin' })).status, 404, 'no image route shows it');
      assert.equal((await api(`/api/images/${imageId}/content`, { as: 'admin' })).status, 404);
    }
    const listed = (await api('/api/images', { as: 'admin' })).json.images as { id: string }[];
    assert.deepEqual(
      listed.filter((m) => imageIds.includes(m.id)),
      [],
    );
    await api('/api/attachments', { as: 'reader' });
    await api('/api/audit?limit=1000', { as: 'admin' });

    for (const id of ids)
      assert.equal((await api(`/api/attachments/${id}`, { method: 'DELETE', as: 'operator' })).status, 202);
    for (const id of ids) await t.waitState(id, 'detached');
    const generatedDir = path.join(t.gw.stateDir, 'generated');
    await waitFor(
      'the generated images removed',
      () => filesUnder(generatedDir, path.join(generatedDir, '.uploads')).length === 0,
    );

    for (const text of answers) assert.ok(!text.includes(SECRET), `an API answer holds the secret: ${text}`);
    assert.ok(!t.gw.output().includes(SECRET), 'the log holds the secret');
    // the database (and its WAL) and everything else of the state dir but the images themselves
    for (const file of filesUnder(t.gw.stateDir, generatedDir))
      assert.ok(!readFileSync(file).includes(SECRET), `${file} holds the secret`);
  });
});
