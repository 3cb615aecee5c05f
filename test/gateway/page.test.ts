// The gateway's page in real headless Chromium against a real gateway process and one real vmedia
// BMC (bus + daemon with the export backend + web): a wrong token is refused; an operator uploads
// a file (its sha256 computed in the page while it is sent, upload progress shown), attaches it to
// the BMC's CD slot, sees it attached (the BMC's export reads back the image), detaches it and
// sees it gone; schedules it for a later window and cancels it; a delete below the admin role
// shows the gateway's error; /metrics after it, through Prometheus' parser. Console errors and
// Content-Security-Policy violations fail the test.
//   VMEDIA_GATEWAY_PAGE_SCREENSHOT=FILE  saves the page with the attachment attached (docs/gateway-page.png)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../helpers/chromium.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';
import { startGatewayProcess, type GatewayProcess } from './helpers.js';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';

const run = promisify(execFile);
const CHECKOUT = fileURLToPath(new URL('../..', import.meta.url));
const CD_SLOT = 'Slot_2';
const IMAGE_BYTES = 16 * 1024 * 1024;
/** Upload speed in the page (CDP network emulation), so its progress has many steps to show. */
const UPLOAD_BYTES_PER_S = 8 * 1024 * 1024;

const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-gateway-page-'));
const image = randomBytes(IMAGE_BYTES);
const sha256 = createHash('sha256').update(image).digest('hex');
const imageFile = path.join(dir, 'rescue disk.img'); // the page makes it a valid name: rescue-disk.img
let stack: Stack;
let gw: GatewayProcess;
let browser: Browser;
let page: Page;
/** Console errors, page errors and CSP violations, of the page and its worker. */
const problems: string[] = [];

before(async () => {
  writeFileSync(imageFile, image);
  const [, started] = await Promise.all([
    // the page under test is the one in src/, bundled now (a stale dist/ would test old code)
    run('bash', [path.join(CHECKOUT, 'scripts/build-gateway-page.sh')]),
    // a loaded machine (the whole suite, other runs) may take long to start a BMC's three processes
    startStack({ mediaTypes: { [CD_SLOT]: 'CD' }, slotTimeout: 30, startTimeoutMs: 90_000 }),
  ]);
  stack = started;
  gw = await startGatewayProcess();
  writeFileSync(path.join(stack.trustStore, 'gateway.pem'), gw.ca);
  const bmc = await gw.api('/api/bmcs', {
    method: 'POST',
    body: {
      name: 'bmc-1',
      redfishUrl: stack.baseUrl,
      username: stack.operator.user,
      password: stack.operator.password,
      caPem: stack.ca,
    },
  });
  assert.equal(bmc.status, 201, bmc.text);

  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1100, height: 900 } });
  const onConsole = (m: ConsoleMessage) => {
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`console: ${m.text()}`);
  };
  context.on('console', onConsole);
  context.on('page', (p) => p.on('worker', (w) => w.on('console', onConsole)));
  await context.addInitScript(
    "document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`))",
  );
  page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: UPLOAD_BYTES_PER_S,
  });
});

after(async () => {
  await browser?.close();
  await gw?.stop();
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The 401s of a refused token are the page's own requests: Chromium logs each failed fetch. */
const expectedFailure = (p: string) => /status of 40[13]/.test(p);

async function signIn(token: string): Promise<void> {
  await page.getByLabel('Bearer token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

// the test's tsconfig has no DOM types: what runs in the page is given as text
const storedToken = () => page.evaluate<string | null>("sessionStorage.getItem('vmedia-gateway-token')");

const attachmentRows = () => page.locator('section[aria-labelledby="attachments-title"] tbody tr');

test('the page is served without a token, with the CSP; a wrong token is refused and not kept', async () => {
  const res = await page.goto(gw.apiUrl);
  assert.equal(res?.status(), 200);
  const csp = res?.headers()['content-security-policy'] ?? '';
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  await signIn(`wrong-${randomBytes(16).toString('base64url')}`);
  await page.getByRole('alert').filter({ hasText: 'The token is not valid.' }).waitFor();
  assert.equal(await page.getByLabel('Bearer token').inputValue(), '', 'the field is cleared');
  assert.equal(await storedToken(), null);
});

test('an operator uploads with progress, attaches to the BMC, sees it attached, detaches, sees it gone', async () => {
  await signIn(gw.tokens.operator);
  await page.getByRole('heading', { name: 'Media library' }).waitFor();
  assert.equal(new URL(page.url()).search, '', 'the token is never in the URL');
  assert.equal(await storedToken(), gw.tokens.operator);

  // every value the upload's progress bar takes
  await page.evaluate(`{
    const bar = document.getElementById('upload-progress');
    window.uploadProgress = [];
    new MutationObserver(() => window.uploadProgress.push(bar.value)).observe(bar, { attributes: true });
  }`);
  await page.getByLabel('Image file').setInputFiles(imageFile);
  assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), 'rescue-disk.img');
  await page.getByRole('button', { name: 'Upload' }).click();
  await page.getByRole('status').filter({ hasText: 'Uploaded rescue-disk.img' }).waitFor({ timeout: 60_000 });
  const progress = await page.evaluate<number[]>('window.uploadProgress');
  const steps = new Set(progress.filter((v) => v > 0 && v < IMAGE_BYTES));
  assert.ok(steps.size >= 3, `the bar moved in steps: ${JSON.stringify(progress.slice(0, 20))}`);
  assert.equal(progress.at(-1), IMAGE_BYTES);

  const stored = (await gw.api('/api/images')).json.images as Array<{ id: string; name: string; sha256: string }>;
  assert.deepEqual(
    stored.map((i) => [i.name, i.sha256]),
    [['rescue-disk.img', sha256]],
  );
  // hashed while sent: through an upload session, the digest checked by its final PUT
  const audit = (await gw.api('/api/audit')).json.audit as Array<{ action: string; detail: string }>;
  assert.ok(
    audit.some((e) => e.detail.includes('rescue-disk.img') && e.detail.includes('resumable session')),
    JSON.stringify(audit),
  );
  const libraryRow = page.locator('section[aria-labelledby="images-title"] tbody tr', { hasText: 'rescue-disk.img' });
  await libraryRow.getByText(sha256).waitFor();
  assert.match(await libraryRow.innerText(), /16\.0 MiB/);

  await page.getByLabel('Image', { exact: true }).selectOption({ label: 'rescue-disk.img' });
  await page.getByLabel('BMC', { exact: true }).selectOption('bmc-1');
  await page.getByLabel('Device', { exact: true }).selectOption({ label: 'CD/DVD' });
  await page.getByRole('button', { name: 'Attach', exact: true }).click();
  const row = attachmentRows().filter({ hasText: 'bmc-1' });
  await row.locator('.status', { hasText: /^attached$/ }).waitFor({ timeout: 90_000 });
  const slot = await stack.request(`/redfish/v1/Managers/bmc/VirtualMedia/${CD_SLOT}`, { auth: stack.readOnly });
  assert.equal(slot.json.Inserted, true);
  assert.ok(String(slot.json.Image).endsWith('/rescue-disk.img'), String(slot.json.Image));
  const socket = stack.slots.find((s) => s.name === CD_SLOT)!.exportSocket;
  const { stdout } = await run('nbdcopy', [`nbd+unix:///?socket=${socket}`, '-'], {
    encoding: 'buffer',
    maxBuffer: 2 * IMAGE_BYTES,
  });
  assert.equal(createHash('sha256').update(stdout).digest('hex'), sha256, 'the BMC reads the uploaded image');
  // the live status follows the bytes the media server sent the BMC
  await row
    .locator('td')
    .nth(4)
    .filter({ hasText: /^[1-9][\d.]* MiB$/ })
    .waitFor();
  if (process.env.VMEDIA_GATEWAY_PAGE_SCREENSHOT)
    await page.screenshot({ path: process.env.VMEDIA_GATEWAY_PAGE_SCREENSHOT, fullPage: true });

  await row.getByRole('button', { name: 'Detach rescue-disk.img on bmc-1 cd' }).click();
  await attachmentRows().filter({ hasText: 'Nothing attached.' }).waitFor({ timeout: 60_000 });
  await waitFor(
    'the BMC slot is empty',
    async () =>
      !(await stack.request(`/redfish/v1/Managers/bmc/VirtualMedia/${CD_SLOT}`, { auth: stack.readOnly })).json
        .Inserted,
    { timeoutMs: 10_000, intervalMs: 250 },
  );
});

test('an attachment for a later window is scheduled, with its boot, and cancelled', async () => {
  const hour = 3600_000;
  const now = Date.now();
  // a datetime-local value: the browser's time zone, which is this process's
  const local = (ms: number) => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
  await page.getByLabel('Image', { exact: true }).selectOption({ label: 'rescue-disk.img' });
  await page.getByLabel('BMC', { exact: true }).selectOption('bmc-1');
  await page.getByLabel('From (optional)').fill(local(now + hour));
  await page.getByLabel('Until (optional)').fill(local(now + 2 * hour));
  await page.getByLabel('Boot the server from it').check();
  await page.getByRole('button', { name: 'Attach', exact: true }).click();
  const row = attachmentRows().filter({ hasText: 'bmc-1' });
  await row.locator('.status', { hasText: /^scheduled$/ }).waitFor();
  const scheduled = (await gw.api('/api/attachments?state=scheduled')).json.attachments as Array<{
    window: { start: string; end: string };
    boot: string;
  }>;
  assert.equal(scheduled.length, 1);
  assert.equal(Date.parse(scheduled[0]!.window.end) - Date.parse(scheduled[0]!.window.start), hour);
  assert.ok(Math.abs(Date.parse(scheduled[0]!.window.start) - (now + hour)) < 60_000);
  assert.equal(scheduled[0]!.boot, 'requested');
  await row.getByRole('button', { name: 'Cancel rescue-disk.img on bmc-1 cd' }).click();
  await attachmentRows().filter({ hasText: 'Nothing attached.' }).waitFor();
  assert.equal((await gw.api('/api/attachments?state=scheduled')).json.attachments.length, 0);
});

test('a delete below the admin role shows the gateway error; an admin deletes', async () => {
  page.once('dialog', (d) => void d.accept());
  await page.getByRole('button', { name: 'Delete rescue-disk.img' }).click();
  await page
    .getByRole('alert')
    .filter({ hasText: /Could not delete rescue-disk.img: .*needs admin/ })
    .waitFor();
  await page.getByRole('button', { name: 'Sign out' }).click();
  assert.equal(await storedToken(), null, 'signing out forgets the token');
  await signIn(gw.tokens.admin);
  page.once('dialog', (d) => void d.accept());
  await page.getByRole('button', { name: 'Delete rescue-disk.img' }).click();
  await page.getByRole('status').filter({ hasText: 'Deleted rescue-disk.img.' }).waitFor();
  await page.locator('section[aria-labelledby="images-title"] td.empty').waitFor();
});

test('/metrics after it, through Prometheus parser: one attach and one detach, bytes served', async () => {
  const res = await gw.api('/metrics', { as: 'reader' });
  assert.equal(res.status, 200);
  const families = await parsePrometheusText(res.text);
  const op = (operation: string) => ({ operation, outcome: 'ok' });
  assert.equal(sampleValue(families, 'vmedia_gateway_operation_seconds_count', op('attach')), 1);
  assert.equal(sampleValue(families, 'vmedia_gateway_operation_seconds_count', op('detach')), 1);
  assert.equal(sampleValue(families, 'vmedia_gateway_operation_seconds_bucket', { ...op('attach'), le: '+Inf' }), 1);
  // the detached one and the cancelled scheduled one
  assert.equal(sampleValue(families, 'vmedia_gateway_attachments', { state: 'detached' }), 2);
  assert.equal(sampleValue(families, 'vmedia_gateway_attachments', { state: 'scheduled' }), 0);
  assert.equal(sampleValue(families, 'vmedia_gateway_attachments', { state: 'attached' }), 0);
  assert.ok(sampleValue(families, 'vmedia_gateway_served_bytes_total') >= IMAGE_BYTES, 'the export read it all');
});

test('no console errors, page errors or CSP violations', () => {
  assert.deepEqual(
    problems.filter((p) => !expectedFailure(p)),
    [],
  );
});
