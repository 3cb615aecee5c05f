// A host boots with generated media: through Redfish, an operating system ISO (GRUB) goes into
// the Legacy CD slot and a NoCloud stick built by the BMC into the Legacy USB-stick slot; the
// virtual host's QEMU VM (SeaBIOS) boots the CD once, and its GRUB finds the stick by its CIDATA
// label and prints the host name and nonce from it on the serial console: the guest reads what
// the BMC generated, beside a user ISO in the other slot.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { waitFor } from '../helpers/wait.js';
import { startImageServer, type ImageServer } from '../sources/helpers/image-server.js';
import { makeBootIso, markerCount } from '../virtual-host/stack.js';
import { documentFor } from '../generated-media/inputs.js';
import { startVirtualBmc, type VirtualBmc } from './helpers/virtual-bmc.js';

const VM = '/redfish/v1/Systems/system/VirtualMedia';

let bmc: VirtualBmc;
let images: ImageServer;
let dir: string;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vmedia-e2e-generated-'));
  const iso = makeBootIso(dir, {
    commands: [
      'search --no-floppy --label CIDATA --set=cidata',
      'echo "stick: ($cidata)"',
      'cat ($cidata)/meta-data',
      'cat ($cidata)/vmedia-nonce',
    ],
    modules: ['search', 'search_label', 'fat', 'cat'],
  });
  images = await startImageServer({ files: new Map([['/os.iso', iso]]), host: '127.0.0.1' });
  bmc = await startVirtualBmc({ mediaTypes: { Slot_2: 'CD', Slot_3: 'USBStick' }, slotTimeout: 30 });
});

after(async () => {
  await bmc?.stop();
  await images?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the guest boots the user ISO from the CD slot and reads the host name and nonce from the generated NoCloud stick', async () => {
  const request = (p: string, method: string, body: unknown) =>
    bmc.stack.request(p, { auth: bmc.stack.admin, method, body });
  const iso = await request(`${VM}/Slot_2/Actions/VirtualMedia.InsertMedia`, 'POST', {
    Image: `${images.origin}/os.iso`,
  });
  assert.equal(iso.status, 204, iso.text);
  const stick = await request(`${VM}/Slot_3/Actions/Oem/VmediaVirtualMedia.InsertGeneratedMedia`, 'POST', {
    ...documentFor('nocloud'),
  });
  assert.equal(stick.status, 200, stick.text);
  const nonce = String(stick.json.Oem.Vmedia.GeneratedMedia.Nonce);

  const boot = await request('/redfish/v1/Systems/system', 'PATCH', {
    Boot: { BootSourceOverrideTarget: 'Cd', BootSourceOverrideEnabled: 'Once' },
  });
  assert.ok(boot.status === 200 || boot.status === 204, boot.text);
  const on = await request('/redfish/v1/Systems/system/Actions/ComputerSystem.Reset', 'POST', { ResetType: 'On' });
  assert.equal(on.status, 204, on.text);

  const console = () => readFileSync(bmc.consoleLog, 'latin1');
  await waitFor(
    () => `the boot marker on the VM console; vmedia host said:\n${bmc.hostOutput()}`,
    () => markerCount(bmc.consoleLog) >= 1,
    { timeoutMs: 120_000, intervalMs: 200 },
  );
  assert.match(console(), /local-hostname: ['"]?node-1\.example\.net/, 'GRUB read the generated meta-data');
  assert.ok(console().includes(nonce), 'and the nonce the BMC shows');
});
