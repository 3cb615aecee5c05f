// GeneratedMedia.Mount(h json_fd, b rw) against the real daemon on a private bus (export
// backend): the JSON through a FIFO (as the web sends it) or a regular file, the image read back
// from the export socket with nbdcopy and compared with the generator's own output for the nonce
// the daemon shows; refused documents (a named error with the property path, nothing attached);
// the CD and USB slots attach independently; the automatic ejects; `vmedia mount-generated`; no
// secret in logs or properties.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { GENERATED_MEDIA_INPUT_ERROR, parseInputProblem } from '../../src/dbus/generated-media.js';
import { IFACE, slotPath } from '../../src/dbus/names.js';
import { buildGeneratedMedia, type GeneratedMediaTarget } from '../../src/generated-media/index.js';
import { cdSized, MIN_CD_IMAGE_BYTES } from '../../src/daemon/generated-media-interface.js';
import { createLogger } from '../../src/log.js';
import { createProcessRunner } from '../../src/process/runner.js';
import { DaemonCallError, DaemonClient, type SlotState } from '../../src/web/daemon/client.js';
import { openPayloadPipe } from '../../src/web/daemon/payload-pipe.js';
import { exportBackendSlot, startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { startTestBus, type TestBus } from '../helpers/private-bus.js';
import { waitFor } from '../helpers/wait.js';
import { vmedia } from '../cli/helpers/run-cli.js';
import { documentFor } from '../generated-media/inputs.js';
import { busctl } from './bus-client.js';

const run = promisify(execFile);
/** A secret a provisioning document carries: never in a log line or a property. */
const TOKEN = 'agent-token-7f3c9a1e5b';
const WAIT_MS = 20_000;

describe('GeneratedMedia.Mount on the daemon', { timeout: 240_000 }, () => {
  let bus: TestBus;
  let daemon: RunningDaemon;
  let client: DaemonClient;
  let dir: string;
  const runner = createProcessRunner(createLogger('test', 'silent'));
  const exportOf = (slot: string) => path.join(dir, 'export', `${slot}.sock`);
  const slot = async (name: string): Promise<SlotState> => (await client.slot(name))!;

  /** The document through a FIFO the way the web sends it: JSON, then a NUL, the write end kept. */
  const mountViaFifo = async (name: string, document: unknown, rw = false): Promise<number> => {
    const pipe = await openPayloadPipe(runner, dir, Buffer.from(`${JSON.stringify(document)}\0`));
    try {
      return await client.mountGenerated(await slot(name), { fd: pipe.fd, rw }, WAIT_MS);
    } finally {
      pipe.close();
    }
  };
  /** The document in a regular file (what `vmedia mount-generated` passes). */
  const mountViaFile = async (name: string, text: string | Buffer): Promise<number> => {
    const file = path.join(dir, `doc-${Date.now()}.json`);
    writeFileSync(file, text, { mode: 0o600 });
    const fd = openSync(file, 'r');
    try {
      return await client.mountGenerated(await slot(name), { fd, rw: false }, WAIT_MS);
    } finally {
      closeSync(fd);
    }
  };
  const eject = async (name: string) =>
    assert.equal(await client.operate(await slot(name), 'Unmount', undefined, WAIT_MS), 0);
  const readExport = async (name: string): Promise<Buffer> => {
    const out = path.join(dir, `${name}-${Date.now()}.img`);
    await run('nbdcopy', [`nbd+unix:///?socket=${exportOf(name)}`, out]);
    return readFileSync(out);
  };
  /** The image the generator builds for the document with the nonce the daemon shows. */
  const expectedImage = (document: unknown, state: SlotState, target: GeneratedMediaTarget) =>
    buildGeneratedMedia(document, { nonce: state.generatedMedia!.nonce, target });
  const refusal = async (mount: Promise<number>) => {
    const err = await mount.then(
      (errno) => assert.fail(`accepted (Completion ${errno})`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof DaemonCallError, String(err));
    return err;
  };

  before(async () => {
    bus = await startTestBus();
    dir = path.join(bus.dir, 'run');
    mkdirSync(path.join(dir, 'export'), { recursive: true });
    const legacy = (n: number, mediaType: string) =>
      exportBackendSlot('Legacy', n, { Timeout: 10, MediaType: mediaType });
    daemon = await startDaemon({
      busAddress: bus.address,
      config: {
        InactivityTimeout: 0,
        HostBackend: 'export',
        RuntimeDir: dir,
        MountPoints: { Slot_2: legacy(2, 'CD'), Slot_3: legacy(3, 'USBStick') },
      },
    });
    client = await DaemonClient.connect(bus.address);
  });
  after(async () => {
    client?.disconnect();
    await daemon?.stop();
    await bus?.stop();
  });

  it('introspects GeneratedMedia on Legacy slots: Mount(hb) → b, Nonce, Format, Label', async () => {
    const text = await busctl(
      bus.address,
      'introspect',
      'xyz.openbmc_project.VirtualMedia',
      slotPath('Legacy', 'Slot_3'),
      IFACE.generatedMedia,
    );
    assert.match(text, /\.Mount\s+method\s+hb\s+b/);
    for (const p of ['Nonce', 'Format', 'Label']) assert.match(text, new RegExp(`\\.${p}\\s+property\\s+s\\s+""`));
  });

  it("NoCloud on the USB slot through a FIFO: the export serves exactly the generator's FAT image", async () => {
    const document = { ...documentFor('nocloud'), files: [{ path: 'agent/token', content: TOKEN }] };
    assert.equal(await mountViaFifo('Slot_3', document), 0);
    const state = await slot('Slot_3');
    assert.equal(state.active, true);
    assert.deepEqual({ ...state.generatedMedia, nonce: '' }, { nonce: '', format: 'nocloud', label: 'CIDATA' });
    assert.match(state.generatedMedia!.nonce, /^[0-9a-f]{32}$/);
    const expected = expectedImage(document, state, 'usb');
    assert.ok(expected.fileSystem.startsWith('fat'));
    assert.ok((await readExport('Slot_3')).equals(expected.image), 'the bytes the host reads are the built image');
    const objects = await busctl(
      bus.address,
      'call',
      'xyz.openbmc_project.VirtualMedia',
      '/xyz/openbmc_project/VirtualMedia',
      IFACE.objectManager,
      'GetManagedObjects',
    );
    assert.match(objects, new RegExp(state.generatedMedia!.nonce));
    assert.doesNotMatch(objects, new RegExp(TOKEN), 'no property shows the document');
  });

  it('config-2 on the CD slot from a file: an ISO, while the USB slot keeps its own media', async () => {
    const document = documentFor('config-2');
    assert.equal(await mountViaFile('Slot_2', JSON.stringify(document)), 0);
    const cd = await slot('Slot_2');
    const usb = await slot('Slot_3');
    assert.equal(cd.generatedMedia!.label, 'config-2');
    assert.notEqual(cd.generatedMedia!.nonce, usb.generatedMedia!.nonce, 'a nonce per attachment');
    const iso = expectedImage(document, cd, 'cd').image;
    assert.ok(iso.length < MIN_CD_IMAGE_BYTES, 'a config drive is smaller than the smallest CD');
    assert.ok((await readExport('Slot_2')).equals(cdSized(iso)), 'the ISO, padded with zeros to 300 frames');
    assert.equal(expectedImage(document, cd, 'cd').fileSystem, 'iso9660');
    await eject('Slot_2');
    const after = await slot('Slot_3');
    assert.equal(after.active, true, 'ejecting the CD slot leaves the USB slot attached');
    assert.deepEqual(after.generatedMedia, usb.generatedMedia);
    assert.equal((await slot('Slot_2')).generatedMedia, undefined, 'Nonce, Format and Label empty again');
  });

  it('refuses a Mount on a slot that holds media (EPERM), and a bad document with the path, nothing attached', async () => {
    const busy = await refusal(mountViaFifo('Slot_3', documentFor('nocloud')));
    assert.equal(busy.errorName, 'System.Error.EPERM');
    await eject('Slot_3');

    const cases: [what: string, text: string | Buffer, path: string, reason: RegExp][] = [
      ['not JSON', '{"format": "nocloud",', '', /not valid JSON/],
      ['not UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), '', /not UTF-8/],
      ['over 8 MiB', JSON.stringify({ format: 'nocloud', x: 'y'.repeat(8 * 1024 * 1024) }), '', /8388608/],
      ['an unknown format', JSON.stringify({ ...documentFor('nocloud'), format: 'iso' }), '/format', /./],
      [
        'a bad hostname',
        JSON.stringify({
          format: 'nocloud',
          meta_data: { ...documentFor('nocloud').meta_data, hostname: 'bad host!' },
        }),
        '/meta_data/hostname',
        /./,
      ],
      ['eject_after out of range', JSON.stringify({ ...documentFor('nocloud'), eject_after: 0 }), '/eject_after', /./],
    ];
    for (const [what, text, pointer, reason] of cases) {
      const err = await refusal(mountViaFile('Slot_3', text));
      assert.equal(err.errorName, GENERATED_MEDIA_INPUT_ERROR, `${what}: ${err.message}`);
      const problem = parseInputProblem(err.message);
      assert.equal(problem.path, pointer, `${what}: ${err.message}`);
      assert.match(problem.reason, reason, what);
    }
    // a floppy is FAT: not for a CD slot
    const floppy = await refusal(mountViaFifo('Slot_2', documentFor('floppy')));
    assert.equal(floppy.errorName, GENERATED_MEDIA_INPUT_ERROR);
    assert.equal(parseInputProblem(floppy.message).path, '/format', floppy.message);
    for (const name of ['Slot_2', 'Slot_3']) {
      const s = await slot(name);
      assert.equal(s.active, false, name);
      assert.equal(s.generatedMedia, undefined, name);
    }
  });

  it('vmedia mount-generated attaches a file and prints the nonce; a bad document exits 2 naming the property', async () => {
    const good = path.join(dir, 'cli-good.json');
    const bad = path.join(dir, 'cli-bad.json');
    writeFileSync(good, JSON.stringify(documentFor('nocloud')));
    writeFileSync(bad, JSON.stringify({ ...documentFor('nocloud'), format: 'iso' }));
    const [attached, refused, proxy] = await Promise.all([
      vmedia(['mount-generated', 'Slot_3', good, '--bus', bus.address]),
      vmedia(['mount-generated', 'Slot_2', bad, '--bus', bus.address]),
      vmedia(['mount-generated', 'Slot_9', good, '--bus', bus.address]),
    ]);
    assert.equal(attached.code, 0, attached.stderr);
    const nonce = (await slot('Slot_3')).generatedMedia!.nonce;
    assert.equal(attached.stdout, `Slot_3: attached nocloud "CIDATA" (read-only), nonce ${nonce}\n`);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /cli-bad\.json at \/format: /);
    assert.equal(proxy.code, 2, proxy.stderr);
    assert.equal((await slot('Slot_2')).active, false);
    await eject('Slot_3');
  });

  it('ejects by itself once the host has read every byte (eject_when_read) or after eject_after seconds', async () => {
    const completion = client.nextCompletion(await slot('Slot_3'), WAIT_MS);
    assert.equal(await mountViaFifo('Slot_3', { ...documentFor('floppy'), eject_when_read: true }), 0);
    assert.equal(await completion.result, 0, 'the mount');
    const ejected = client.nextCompletion(await slot('Slot_3'), WAIT_MS);
    assert.equal((await slot('Slot_3')).active, true);
    await readExport('Slot_3');
    assert.equal(await ejected.result, 0, 'the eject after the whole image was read');
    assert.equal((await slot('Slot_3')).active, false);

    const started = Date.now();
    assert.equal(await mountViaFifo('Slot_2', { ...documentFor('nocloud'), eject_after: 1 }), 0);
    await waitFor('the CD slot to eject after 1 s', async () => !(await slot('Slot_2')).active, {
      timeoutMs: WAIT_MS,
    });
    assert.ok(Date.now() - started >= 1000, 'not before eject_after');
  });

  it('keeps the document out of the log', () => {
    assert.doesNotMatch(daemon.output(), new RegExp(TOKEN));
    assert.match(daemon.output(), /generated media built/);
  });
});
