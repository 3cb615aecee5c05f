// The long runs of Ironic's virtual-media deploy end to end (npm run test:long), against the whole
// virtual BMC (daemon + web + `vmedia host` on one private bus) with sushy unmodified:
// - Ironic's default, UEFI: an HTTPS ISO in a Legacy CD slot boots under OVMF once; after eject a
//   ForceRestart finds no medium (OVMF says so on the console) and the override is used up;
// - the ISO served from the browser page (headless Chromium) through a Proxy CD slot, booted by a
//   one-time Cd override from sushy; the page's Stop ejects it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { waitFor } from '../helpers/wait.js';
import { startImageServer, type ImageServer } from '../sources/helpers/image-server.js';
import { createTestCa } from '../sources/helpers/test-ca.js';
import { makeBootIso, markerCount } from '../virtual-host/stack.js';
import { ironic, type IronicStep } from './helpers/ironic.js';
import { startVirtualBmc, type VirtualBmc } from './helpers/virtual-bmc.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../helpers/chromium.js';

const run = promisify(execFile);
const CHECKOUT = fileURLToPath(new URL('../..', import.meta.url));

let bmc: VirtualBmc;
let images: ImageServer;
let browser: Browser;
let dir: string;
let iso: string;
let imageUrl: string;

before(async () => {
  // the page under test is the one in src/, bundled now (a stale dist/ would test old code)
  await run('bash', [path.join(CHECKOUT, 'scripts/build.sh'), '--page']);
  dir = mkdtempSync(path.join(tmpdir(), 'vmedia-e2e-ironic-long-'));
  const ca = createTestCa(path.join(dir, 'ca'));
  iso = makeBootIso(dir);
  images = await startImageServer({
    files: new Map([['/ironic/boot.iso', iso]]),
    tls: { key: ca.serverKey, cert: ca.serverCert },
    host: '127.0.0.1',
  });
  imageUrl = `${images.origin}/ironic/boot.iso`;
  // Slot_2 (Legacy, first in the collection) is the CD Ironic picks; Slot_0 the Proxy CD the page serves
  bmc = await startVirtualBmc({ mediaTypes: { Slot_0: 'CD', Slot_2: 'CD' }, slotTimeout: 30 });
  copyFileSync(ca.caCertFile, path.join(bmc.stack.trustStore, 'image-server-ca.pem'));
});

after(async () => {
  await browser?.close();
  await bmc?.stop();
  await images?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(1);
const state = async (): Promise<IronicStep | undefined> => (await ironic(bmc.stack, 'state'))[0];
const consoleText = () => readFileSync(bmc.consoleLog, 'latin1');

async function waitForMarker(count: number, what: string): Promise<void> {
  await waitFor(
    () => `boot marker ${count} (${what}); vmedia host said:\n${bmc.hostOutput()}`,
    () => markerCount(bmc.consoleLog) === count,
    { timeoutMs: 240_000, intervalMs: 200 },
  );
}

async function waitForPower(power: 'On' | 'Off'): Promise<IronicStep> {
  return waitFor(
    `PowerState ${power}`,
    async () => {
      const s = await state();
      return s?.power === power && s;
    },
    { timeoutMs: 90_000, intervalMs: 500 },
  );
}

test('UEFI: sushy inserts an HTTPS ISO, OVMF boots it once from Cd; after eject ForceRestart finds nothing', async () => {
  const started = performance.now();
  const deploy = await ironic(bmc.stack, 'deploy', imageUrl, 'UEFI');
  assert.deepEqual(deploy[0], { step: 'inserted', slot: 'Slot_2', cds: [{ slot: 'Slot_2', image: imageUrl }] });
  assert.deepEqual(deploy[1], { step: 'boot', power: 'Off', target: 'Cd', enabled: 'Once', mode: 'UEFI' });
  assert.deepEqual(deploy[2], { step: 'reset', type: 'On' });
  await waitForMarker(1, 'OVMF, Legacy CD slot over HTTPS');
  process.stderr.write(`# OVMF, Legacy CD slot over HTTPS: ${seconds(started)} s from deploy to the marker\n`);
  // GRUB powers off after the marker; the Once override was used by that boot
  assert.deepEqual(await waitForPower('Off'), {
    step: 'state',
    power: 'Off',
    target: 'Cd',
    enabled: 'Disabled',
    mode: 'UEFI',
  });

  assert.deepEqual(await ironic(bmc.stack, 'eject'), [{ step: 'ejected', cds: [] }]);
  const consoleBefore = consoleText().length;
  const again = performance.now();
  assert.deepEqual(await ironic(bmc.stack, 'reset', 'ForceRestart'), [{ step: 'reset', type: 'ForceRestart' }]);
  await waitForPower('On');
  // OVMF tries both CD drives, finds no medium in either and falls back to its shell
  const since = await waitFor(
    () => `OVMF's shell after failed boots; console since:\n${consoleText().slice(consoleBefore)}`,
    () => {
      const text = consoleText().slice(consoleBefore);
      return text.includes('Shell>') && text;
    },
    { timeoutMs: 180_000, intervalMs: 500 },
  );
  process.stderr.write(`# OVMF after eject: no medium, its shell after ${seconds(again)} s\n`);
  const failed = [...since.matchAll(/BdsDxe: failed to load Boot\d+ "UEFI QEMU DVD-ROM [^"]*" .*: Not Found/g)];
  assert.equal(failed.length, 2, since);
  assert.equal(markerCount(bmc.consoleLog), 1, 'no second boot of the ejected ISO');
  assert.deepEqual(await state(), { step: 'state', power: 'On', target: 'Cd', enabled: 'Disabled', mode: 'UEFI' });
  assert.deepEqual(await ironic(bmc.stack, 'reset', 'ForceOff'), [{ step: 'reset', type: 'ForceOff' }]);
  await waitForPower('Off');
});

test('the ISO served from the browser page through a Proxy CD slot boots once from Cd; Stop ejects it', async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
  page.setDefaultTimeout(20_000);
  await page.goto(bmc.stack.baseUrl);
  await page.getByLabel('User name', { exact: true }).fill(bmc.stack.operator.user);
  await page.getByLabel('Password', { exact: true }).fill(bmc.stack.operator.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  const card = page.locator('section[data-slot="Slot_0"]');
  await card.locator('input[type=file]').setInputFiles(iso);
  await card.getByRole('button', { name: 'Mount' }).click();
  await card.locator('.status', { hasText: /^Inserted$/ }).waitFor();

  const started = performance.now();
  const boot = await ironic(bmc.stack, 'boot', 'Legacy');
  assert.deepEqual(boot[0]?.step, 'cds');
  assert.deepEqual(
    (boot[0]?.cds as { slot: string }[]).map((c) => c.slot),
    ['Slot_0'],
  );
  assert.deepEqual(boot[1], { step: 'boot', power: 'Off', target: 'Cd', enabled: 'Once', mode: 'Legacy' });
  await waitForMarker(2, 'SeaBIOS, Proxy CD slot from the browser');
  process.stderr.write(`# SeaBIOS, Proxy CD slot from the browser: ${seconds(started)} s from reset to the marker\n`);
  assert.deepEqual(await waitForPower('Off'), {
    step: 'state',
    power: 'Off',
    target: 'Cd',
    enabled: 'Disabled',
    mode: 'Legacy',
  });

  await card.getByRole('button', { name: 'Stop' }).click();
  await card.locator('.status', { hasText: /^Not inserted$/ }).waitFor();
  const slot = (await bmc.stack.request('/redfish/v1/Managers/bmc/VirtualMedia/Slot_0', { auth: bmc.stack.operator }))
    .json;
  assert.equal(slot.Inserted, false);
});
