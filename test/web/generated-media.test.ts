// Redfish #VmediaVirtualMedia.InsertGeneratedMedia against the real daemon and web: the action and
// its ActionInfo on Legacy members, MediaTypes per slot, 400s that name the property (never its
// value), 409 on a busy slot, the nonce in Oem.Vmedia while attached, the bytes the host reads,
// a user ISO in the CD slot beside the config media in the USB slot, no secret in any response
// or log line.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { buildGeneratedMedia } from '../../src/generated-media/index.js';
import { cdSized } from '../../src/daemon/generated-media-interface.js';
import { startStack, type HttpResponse, type RequestOptions, type Stack } from '../helpers/stack.js';
import { startImageServer, type ImageServer } from '../sources/helpers/image-server.js';
import { documentFor } from '../generated-media/inputs.js';

const run = promisify(execFile);
const VM = '/redfish/v1/Systems/system/VirtualMedia';
const ACTION = '#VmediaVirtualMedia.InsertGeneratedMedia';
const insertPath = (slot: string) => `${VM}/${slot}/Actions/Oem/VmediaVirtualMedia.InsertGeneratedMedia`;
/** A secret inside a document: never in a response, a header or a log line. */
const TOKEN = 'ipa-agent-token-0c4f2d9b';

describe('Redfish InsertGeneratedMedia', { timeout: 240_000 }, () => {
  let stack: Stack;
  let dir: string;
  let server: ImageServer;
  const seen: string[] = [];

  const req = async (p: string, opts: RequestOptions = {}): Promise<HttpResponse> => {
    const r = await stack.request(p, { auth: stack.admin, ...opts });
    seen.push(r.text, JSON.stringify(r.headers));
    return r;
  };
  const insert = (slot: string, body: unknown, opts: RequestOptions = {}) =>
    req(insertPath(slot), { method: 'POST', body, ...opts });
  const eject = async (slot: string) =>
    assert.equal(
      (await req(`${VM}/${slot}/Actions/VirtualMedia.EjectMedia`, { method: 'POST', body: {} })).status,
      204,
    );
  const member = async (slot: string) => (await req(`${VM}/${slot}`)).json;
  const expectError = (r: HttpResponse, status: number, messageId: string, related?: string) => {
    assert.equal(r.status, status, r.text);
    const info = r.json.error['@Message.ExtendedInfo'][0];
    assert.equal(info.MessageId, `Base.1.19.0.${messageId}`, r.text);
    if (related) assert.deepEqual(info.RelatedProperties, [related], r.text);
  };
  const exportBytes = async (slot: string) => {
    const out = path.join(dir, `${slot}-${Date.now()}.img`);
    const socket = stack.slots.find((s) => s.name === slot)!.exportSocket;
    await run('nbdcopy', [`nbd+unix:///?socket=${socket}`, out]);
    return readFileSync(out);
  };

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vmedia-generated-web-'));
    const iso = path.join(dir, 'user.iso');
    writeFileSync(iso, Buffer.alloc(2 * 1024 * 1024, 0x33));
    server = await startImageServer({ files: new Map([['/user.iso', iso]]), host: '127.0.0.1' });
    stack = await startStack({ slotTimeout: 10, mediaTypes: { Slot_2: 'CD', Slot_3: 'USBStick' } });
  });
  after(async () => {
    await stack?.stop();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('offers the action on Legacy members, with an ActionInfo whose formats follow the media type', async () => {
    const cd = await member('Slot_2');
    const usb = await member('Slot_3');
    assert.deepEqual(cd.MediaTypes, ['CD', 'DVD']);
    assert.deepEqual(usb.MediaTypes, ['USBStick']);
    for (const [m, formats] of [
      [cd, ['config-2', 'nocloud']],
      [usb, ['config-2', 'nocloud', 'floppy']],
    ] as const) {
      const action = m.Actions.Oem[ACTION];
      assert.equal(action.target, insertPath(m.Id));
      const info = (await req(action['@Redfish.ActionInfo'])).json;
      assert.equal(info['@odata.id'], action['@Redfish.ActionInfo']);
      assert.equal(info['@odata.type'], '#ActionInfo.v1_4_0.ActionInfo');
      const format = info.Parameters.find((p: { Name: string }) => p.Name === 'format');
      assert.deepEqual(format, { Name: 'format', Required: true, DataType: 'String', AllowableValues: formats });
      assert.deepEqual(m.Oem.Vmedia, {
        '@odata.id': `${VM}/${m.Id}#/Oem/Vmedia`,
        '@odata.type': '#VmediaVirtualMedia.v1_0_0.VirtualMedia',
        GeneratedMedia: null,
      });
    }
    const proxy = await member('Slot_0');
    assert.equal(proxy.Actions.Oem, undefined);
    expectError(await insert('Slot_0', documentFor('nocloud')), 405, 'ActionNotSupported');
    expectError(await req(`${VM}/Slot_0/InsertGeneratedMediaActionInfo`), 404, 'ResourceNotFound');
  });

  it('answers a bad document with 400 naming the property, never echoing a value; nothing is attached', async () => {
    const nocloud = documentFor('nocloud');
    expectError(await insert('Slot_3', [nocloud]), 400, 'MalformedJSON');
    expectError(await insert('Slot_3', { meta_data: nocloud.meta_data }), 400, 'ActionParameterMissing', '#/format');
    expectError(await insert('Slot_3', { ...nocloud, format: 'vfat' }), 400, 'PropertyValueNotInList', '#/format');
    expectError(await insert('Slot_2', documentFor('floppy')), 400, 'PropertyValueNotInList', '#/format');
    expectError(await insert('Slot_3', { ...nocloud, WriteProtected: 'no' }), 400, 'PropertyValueTypeError');
    const badHost = await insert('Slot_3', {
      ...nocloud,
      meta_data: { ...nocloud.meta_data, hostname: `${TOKEN} bad` },
    });
    expectError(badHost, 400, 'PropertyValueFormatError', '#/meta_data/hostname');
    const badFile = await insert('Slot_3', { ...nocloud, files: [{ path: '../etc/shadow', content: TOKEN }] });
    expectError(badFile, 400, 'PropertyValueFormatError');
    assert.match(badFile.json.error['@Message.ExtendedInfo'][0].RelatedProperties[0], /^#\/files\/0/);
    expectError(await insert('Slot_3', nocloud, { auth: stack.readOnly }), 403, 'InsufficientPrivilege');
    for (const slot of ['Slot_2', 'Slot_3']) {
      const m = await member(slot);
      assert.equal(m.Inserted, false, slot);
      assert.equal(m.Oem.Vmedia.GeneratedMedia, null, slot);
    }
  });

  it('inserts a NoCloud stick: 200 with the nonce, the host reads the built image, 409 while it is in', async () => {
    // over the 64 KiB every other body may have: a document carries certificates and scripts
    const document = {
      ...documentFor('nocloud'),
      files: [
        { path: 'agent/token', content: TOKEN },
        { path: 'agent/blob.bin', content_base64: Buffer.alloc(200 * 1024, 7).toString('base64') },
      ],
    };
    const r = await insert('Slot_3', document);
    assert.equal(r.status, 200, r.text);
    const generated = r.json.Oem.Vmedia.GeneratedMedia;
    assert.match(generated.Nonce, /^[0-9a-f]{32}$/);
    assert.deepEqual({ ...generated, Nonce: '' }, { Nonce: '', Format: 'nocloud', Label: 'CIDATA' });
    const m = await member('Slot_3');
    assert.equal(m.Inserted, true);
    assert.deepEqual(m.Oem.Vmedia.GeneratedMedia, generated);
    const built = buildGeneratedMedia(document, { nonce: generated.Nonce, target: 'usb' });
    assert.ok((await exportBytes('Slot_3')).equals(built.image), 'the host reads the image built for this nonce');
    expectError(await insert('Slot_3', documentFor('nocloud')), 409, 'ResourceInUse');
  });

  it('a user ISO in the CD slot never displaces the config media in the USB slot', async () => {
    const before = (await member('Slot_3')).Oem.Vmedia.GeneratedMedia;
    assert.ok(before, 'the stick from the previous test is in');
    const iso = await req(`${VM}/Slot_2/Actions/VirtualMedia.InsertMedia`, {
      method: 'POST',
      body: { Image: `${server.origin}/user.iso` },
    });
    assert.equal(iso.status, 204, iso.text);
    const cd = await member('Slot_2');
    assert.equal(cd.Image, `${server.origin}/user.iso`);
    assert.equal(cd.Oem.Vmedia.GeneratedMedia, null, 'a URL image is no generated media');
    assert.deepEqual((await member('Slot_3')).Oem.Vmedia.GeneratedMedia, before);
    assert.ok((await exportBytes('Slot_2')).equals(Buffer.alloc(2 * 1024 * 1024, 0x33)));
    await eject('Slot_2');
    const usb = await member('Slot_3');
    assert.equal(usb.Inserted, true);
    assert.deepEqual(usb.Oem.Vmedia.GeneratedMedia, before);
    await eject('Slot_3');
    assert.equal((await member('Slot_3')).Oem.Vmedia.GeneratedMedia, null);
  });

  it('inserts a config drive into the CD slot as an ISO', async () => {
    const document = documentFor('config-2');
    const r = await insert('Slot_2', document);
    assert.equal(r.status, 200, r.text);
    const generated = r.json.Oem.Vmedia.GeneratedMedia;
    assert.equal(generated.Label, 'config-2');
    const built = buildGeneratedMedia(document, { nonce: generated.Nonce, target: 'cd' });
    assert.equal(built.fileSystem, 'iso9660');
    assert.ok((await exportBytes('Slot_2')).equals(cdSized(built.image)), 'the ISO, padded to the smallest CD');
    await eject('Slot_2');
  });

  it('shows no secret of a document in a response, a header or a log line', () => {
    for (const text of [...seen, stack.webOutput(), stack.daemon.output()])
      assert.doesNotMatch(text, new RegExp(TOKEN));
  });
});
