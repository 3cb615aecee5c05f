// The page in real headless Chromium against the whole stack (bus + daemon with the export
// backend + vmedia web): log in, serve a local file to a Proxy slot from the page's worker,
// read it on the host side with nbdcopy, Stop, and the Legacy form's error and secrecy.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startStack, type Stack } from '../helpers/stack.js';

const run = promisify(execFile);
const CHECKOUT = fileURLToPath(new URL('../..', import.meta.url));
const IMAGE_BYTES = 64 * 1024 * 1024;
const CHROMIUM_ARGS = ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--ignore-certificate-errors'];

const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-page-'));
const imagePath = path.join(dir, 'boot.img');
let stack: Stack;
let browser: Browser;
let page: Page;

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

before(async () => {
  // the page under test is the one in src/, bundled now (a stale dist/ would test old code)
  await run('bash', [path.join(CHECKOUT, 'scripts/build.sh'), '--page']);
  writeFileSync(imagePath, randomBytes(IMAGE_BYTES));
  stack = await startStack();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const slot = (id: string) => page.locator(`section[data-slot="${id}"]`);

test('a wrong password is refused with a clear message and the field is cleared', async () => {
  await page.goto(stack.baseUrl);
  await page.getByLabel('User name').fill(stack.admin.user);
  await page.getByLabel('Password').fill(`${stack.admin.password}-wrong`);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Wrong user name or password.' }).waitFor();
  assert.equal(await page.getByLabel('Password').inputValue(), '');
});

test('login shows the slots with their modes and states', async () => {
  await page.getByLabel('Password').fill(stack.admin.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await slot('Slot_0').waitFor();
  assert.deepEqual(await page.locator('section.slot h2').allTextContents(), ['Slot_0', 'Slot_1', 'Slot_2', 'Slot_3']);
  assert.match(await slot('Slot_0').locator('.mode').textContent() ?? '', /^Proxy/);
  assert.match(await slot('Slot_2').locator('.mode').textContent() ?? '', /^Legacy/);
  for (const id of ['Slot_0', 'Slot_2']) assert.equal(await slot(id).locator('.status').textContent(), 'Not inserted');
});

test('a local file served from the page: the host reads the same bytes, then Stop ejects', async () => {
  const card = slot('Slot_0');
  await card.locator('input[type=file]').setInputFiles(imagePath);
  await card.getByRole('button', { name: 'Mount' }).click();
  await card.locator('.status', { hasText: /^Inserted$/ }).waitFor({ timeout: 20_000 });

  const exportSocket = stack.slots.find((s) => s.name === 'Slot_0')!.exportSocket;
  const copy = path.join(dir, 'copy.img');
  await run('nbdcopy', [`nbd+unix:///?socket=${exportSocket}`, copy]);
  assert.equal(await sha256File(copy), await sha256File(imagePath));
  rmSync(copy);

  // the figures update every 500 ms: wait until they show the whole image went through
  await page.waitForFunction(() => /MiB/.test(document.querySelector('[data-slot="Slot_0"] .bytes-served')?.textContent ?? ''));
  const served = await card.locator('.bytes-served').textContent();
  const mib = Number(/([\d.]+) MiB/.exec(served ?? '')?.[1]);
  assert.ok(mib >= 64, `bytes served shown: ${served}`);
  assert.match(await card.locator('.throughput').textContent() ?? '', /\/s$/);
  assert.match(await card.locator('.image').textContent() ?? '', /boot\.img \(from this browser\)/);
  const shot = path.join(tmpdir(), 'vmedia-page-serving.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);

  await card.getByRole('button', { name: 'Stop' }).click();
  await card.locator('.status', { hasText: 'Not inserted' }).waitFor({ timeout: 20_000 });
  await card.getByRole('status').filter({ hasText: 'Stopped; the media was ejected' }).waitFor();
  const member = await stack.request('/redfish/v1/Managers/bmc/VirtualMedia/Slot_0', { auth: stack.admin });
  assert.equal(member.json.Inserted, false);
});
