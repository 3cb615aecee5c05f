// Ironic's virtual-media deploy end to end: sushy (unmodified, from Debian) against the whole
// virtual BMC (daemon + web + `vmedia host` on one private bus). From the service root it inserts
// a bootable ISO served over HTTPS into a Legacy CD slot, sets a one-time Cd override and powers
// on: the QEMU VM boots the ISO (its marker on the serial console). After eject the next boot
// finds no medium and the override is used up. SeaBIOS (Legacy) here: two TCG boots of a few
// seconds; the UEFI flow Ironic defaults to is in ironic-boot.long.test.ts.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { waitFor } from '../helpers/wait.js';
import { startImageServer, type ImageServer } from '../sources/helpers/image-server.js';
import { createTestCa } from '../sources/helpers/test-ca.js';
import { makeBootIso, markerCount } from '../virtual-host/stack.js';
import { ironic } from './helpers/ironic.js';
import { startVirtualBmc, type VirtualBmc } from './helpers/virtual-bmc.js';

const SLOT_URL = '/redfish/v1/Managers/bmc/VirtualMedia/Slot_2';

let bmc: VirtualBmc;
let images: ImageServer;
let dir: string;
let imageUrl: string;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'vmedia-e2e-ironic-'));
  const ca = createTestCa(path.join(dir, 'ca'));
  images = await startImageServer({
    files: new Map([['/ironic/boot.iso', makeBootIso(dir)]]),
    tls: { key: ca.serverKey, cert: ca.serverCert },
    host: '127.0.0.1',
  });
  imageUrl = `${images.origin}/ironic/boot.iso`;
  // Slot_2 (Legacy, first in the collection) is the CD Ironic picks; the Proxy slots are USB sticks
  bmc = await startVirtualBmc({ mediaTypes: { Slot_2: 'CD', Slot_3: 'CD' }, slotTimeout: 30 });
  copyFileSync(ca.caCertFile, path.join(bmc.stack.trustStore, 'image-server-ca.pem'));
});

after(async () => {
  await bmc?.stop();
  await images?.close();
  rmSync(dir, { recursive: true, force: true });
});

const slotJson = async () => (await bmc.stack.request(SLOT_URL, { auth: bmc.stack.operator })).json;

test('sushy inserts an HTTPS ISO, boots it once from Cd, ejects, and the next boot finds nothing', async () => {
  const started = performance.now();
  const deploy = await ironic(bmc.stack, 'deploy', imageUrl, 'Legacy');
  assert.deepEqual(
    deploy.map((s) => s.step),
    ['inserted', 'boot', 'reset'],
  );
  assert.deepEqual(deploy[0], { step: 'inserted', slot: 'Slot_2', cds: [{ slot: 'Slot_2', image: imageUrl }] });
  assert.deepEqual(deploy[1], { step: 'boot', power: 'Off', target: 'Cd', enabled: 'Once', mode: 'Legacy' });

  await waitFor(
    () => `the boot marker on the VM console; vmedia host said:\n${bmc.hostOutput()}`,
    () => markerCount(bmc.consoleLog) === 1,
    { timeoutMs: 120_000, intervalMs: 200 },
  );
  process.stderr.write(
    `# SeaBIOS, Legacy CD slot over HTTPS: ${((performance.now() - started) / 1000).toFixed(1)} s from deploy to the marker\n`,
  );
  // GRUB powers off after the marker; the Once override was used by that boot
  const afterBoot = await waitFor(
    'the VM off after GRUB halts',
    async () => {
      const [state] = await ironic(bmc.stack, 'state');
      return state?.power === 'Off' && state;
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  assert.deepEqual(afterBoot, { step: 'state', power: 'Off', target: 'Cd', enabled: 'Disabled', mode: 'Legacy' });

  assert.deepEqual(await ironic(bmc.stack, 'eject'), [{ step: 'ejected', cds: [] }]);
  const slot = await slotJson();
  assert.equal(slot.Inserted, false);
  assert.equal(slot.Image ?? null, null);

  const again = performance.now();
  assert.deepEqual(await ironic(bmc.stack, 'reset', 'On'), [{ step: 'reset', type: 'On' }]);
  await waitFor('power On after the second reset', async () => (await ironic(bmc.stack, 'state'))[0]?.power === 'On', {
    timeoutMs: 60_000,
    intervalMs: 500,
  });
  // the VM's CD drives are empty...
  const blocks = (await bmc.qmp('query-block')) as { qdev: string; inserted?: unknown }[];
  assert.deepEqual(
    blocks.map((b) => ({ qdev: b.qdev, inserted: b.inserted })),
    [
      { qdev: 'cd-Slot_2', inserted: undefined },
      { qdev: 'cd-Slot_3', inserted: undefined },
    ],
  );
  // ...and SeaBIOS, which reached the marker in a second or two before, finds nothing to boot
  await new Promise((resolve) => setTimeout(resolve, 5000));
  assert.equal(markerCount(bmc.consoleLog), 1, 'no second boot of the ejected ISO');
  process.stderr.write(`# second boot (no medium) observed for ${((performance.now() - again) / 1000).toFixed(1)} s\n`);
  const final = (await ironic(bmc.stack, 'state'))[0];
  assert.deepEqual(final, { step: 'state', power: 'On', target: 'Cd', enabled: 'Disabled', mode: 'Legacy' });
  assert.deepEqual(await ironic(bmc.stack, 'reset', 'ForceOff'), [{ step: 'reset', type: 'ForceOff' }]);
});
