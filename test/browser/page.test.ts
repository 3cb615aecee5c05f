// The page in real headless Chromium against the whole stack (bus + daemon with the export
// backend + vmedia web): log in, serve a local file to a Proxy slot from the page's worker,
// read it on the host side with nbdcopy, Stop, and the Legacy form's error and secrecy; the
// generated-media form of a Legacy slot.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { buildGeneratedMedia } from '../../src/generated-media/index.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { startImageServer, type ImageServer } from '../sources/helpers/image-server.js';
import { createTestCa } from '../sources/helpers/test-ca.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../helpers/chromium.js';

const run = promisify(execFile);
const CHECKOUT = fileURLToPath(new URL('../..', import.meta.url));
const IMAGE_BYTES = 64 * 1024 * 1024;

const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-page-'));
const imagePath = path.join(dir, 'boot.img');
let stack: Stack;
let browser: Browser;
let page: Page;
let images: ImageServer;
/** Every request the page made: where secrets must not show up. */
const requests: Array<{ method: string; url: string; headers: string; body: string }> = [];
const remote = { user: 'media', password: `pw-${randomBytes(9).toString('base64url')}` };
/** Everything the Content-Security-Policy refused, on any page or worker of any context. */
const cspViolations: string[] = [];

/** Collects CSP violations: Chromium logs each to the console of the page or worker concerned. */
async function watchCsp(context: BrowserContext): Promise<void> {
  const onConsole = (m: ConsoleMessage) => {
    if (/Content Security Policy|CSP violation/i.test(m.text())) cspViolations.push(m.text());
  };
  context.on('console', onConsole);
  context.on('page', (p) => p.on('worker', (w) => w.on('console', onConsole)));
  // and the DOM's own report, in case a violation is not logged
  await context.addInitScript(
    "document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`))",
  );
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

before(async () => {
  // the page under test is the one in src/, bundled now (a stale dist/ would test old code)
  await run('bash', [path.join(CHECKOUT, 'scripts/build.sh'), '--page']);
  writeFileSync(imagePath, randomBytes(IMAGE_BYTES));
  writeFileSync(path.join(dir, 'small.img'), randomBytes(1024 * 1024));
  // HTTPS: the web refuses to send image credentials over plain HTTP
  const ca = createTestCa(dir);
  images = await startImageServer({
    files: new Map([['/images/small.img', path.join(dir, 'small.img')]]),
    switches: { auth: remote },
    tls: { key: ca.serverKey, cert: ca.serverCert },
    host: '127.0.0.1',
  });
  stack = await startStack();
  copyFileSync(ca.caCertFile, path.join(stack.trustStore, 'image-server-ca.pem'));
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  await watchCsp(context);
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (err) => console.log(`page error: ${err.message}`));
  page.on('request', (r) =>
    requests.push({ method: r.method(), url: r.url(), headers: JSON.stringify(r.headers()), body: r.postData() ?? '' }),
  );
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  await images?.close();
  rmSync(dir, { recursive: true, force: true });
});

const slot = (id: string) => page.locator(`section[data-slot="${id}"]`);

/** Waits for a slot's state badge; on timeout the error shows what the card says instead. */
async function waitForState(id: string, state: 'Inserted' | 'Not inserted', timeout = 20_000): Promise<void> {
  try {
    await slot(id)
      .locator('.status', { hasText: new RegExp(`^${state}$`) })
      .waitFor({ timeout });
  } catch (err) {
    const shot = path.join(tmpdir(), `vmedia-page-${id}-not-${state.replace(' ', '-')}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    const recent = requests
      .slice(-6)
      .map((r) => `${r.method} ${new URL(r.url).pathname}`)
      .join(', ');
    throw new Error(
      `${id} did not become "${state}" (screenshot ${shot}; last requests: ${recent}); the card says: ${await slot(id).innerText()}`,
      { cause: err },
    );
  }
}

/** A second browser session (own cookies), logged in as `who`; its clock can be paused. */
async function secondPage(who: { user: string; password: string }): Promise<{ page: Page; close(): Promise<void> }> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  await watchCsp(context);
  const other = await context.newPage();
  other.setDefaultTimeout(15_000);
  await other.clock.install();
  await other.goto(stack.baseUrl);
  await other.getByLabel('User name', { exact: true }).fill(who.user);
  await other.getByLabel('Password', { exact: true }).fill(who.password);
  await other.getByRole('button', { name: 'Log in' }).click();
  await other.locator('section[data-slot="Slot_1"]').getByRole('button', { name: 'Mount' }).waitFor();
  return { page: other, close: () => context.close() };
}

test('a wrong password is refused with a clear message and the field is cleared', async () => {
  await page.goto(stack.baseUrl);
  await page.getByLabel('User name', { exact: true }).fill(stack.admin.user);
  await page.getByLabel('Password', { exact: true }).fill(`${stack.admin.password}-wrong`);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Wrong user name or password.' }).waitFor();
  assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), '');
});

test('repeated failures are rate limited (429) and the page says how long to wait', async () => {
  // a user nobody logs in as: delays are per address and user. The first is short (1 s): a slow
  // round may slip past it, and the next delay is twice as long
  const user = page.getByLabel('User name', { exact: true });
  await user.fill('nobody');
  for (let i = 0; i < 10; i++) {
    await page.getByLabel('Password', { exact: true }).fill(`wrong-${i}`);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').waitFor();
    if (/Too many failed logins/.test((await page.getByRole('alert').textContent()) ?? '')) break;
  }
  assert.match(
    (await page.getByRole('alert').textContent()) ?? '',
    /^Too many failed logins\. Try again in \d+ seconds\.$/,
  );
  await user.fill(stack.admin.user);
});

test('login shows the slots with their modes and states', async () => {
  await page.getByLabel('Password', { exact: true }).fill(stack.admin.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await slot('Slot_0').waitFor();
  assert.deepEqual(await page.locator('section.slot h2').allTextContents(), ['Slot_0', 'Slot_1', 'Slot_2', 'Slot_3']);
  assert.match((await slot('Slot_0').locator('.mode').textContent()) ?? '', /^Proxy/);
  assert.match((await slot('Slot_2').locator('.mode').textContent()) ?? '', /^Legacy/);
  for (const id of ['Slot_0', 'Slot_2']) assert.equal(await slot(id).locator('.status').textContent(), 'Not inserted');
});

test('a local file served from the page: the host reads the same bytes, a new login keeps it served, Stop ejects', async () => {
  const card = slot('Slot_0');
  await card.locator('input[type=file]').setInputFiles(imagePath);
  await card.getByRole('button', { name: 'Mount' }).click();
  await waitForState('Slot_0', 'Inserted');
  assert.equal(await card.locator('.serving-state').textContent(), 'Mounted: the host can use the image.');
  // the worker serves over a WebSocketStream where the browser has one (websocketstream-socket.ts),
  // so this test runs that path; serve-file.unit.test.ts runs the WebSocket one (Node has no other)
  const workers = page.workers();
  assert.equal(workers.length, 1);
  assert.equal(await workers[0]!.evaluate('typeof WebSocketStream'), 'function');

  const exportSocket = stack.slots.find((s) => s.name === 'Slot_0')!.exportSocket;
  const copy = path.join(dir, 'copy.img');
  const started = performance.now();
  await run('nbdcopy', [`nbd+unix:///?socket=${exportSocket}`, copy]).catch(async (err: Error) => {
    throw new Error(`${err.message}\nthe card says: ${await card.innerText()}`, { cause: err });
  });
  const seconds = (performance.now() - started) / 1000;
  // not the page's speed: Playwright captures the network, so Chromium base64-encodes every
  // WebSocket frame for it (≈2× the CPU); bench/paths/browser.ts measures without
  console.log(
    `nbdcopy of ${IMAGE_BYTES >> 20} MiB through the page: ${seconds.toFixed(2)} s, ${(IMAGE_BYTES / 2 ** 20 / seconds).toFixed(1)} MiB/s (under Playwright's network capture)`,
  );
  assert.equal(await sha256File(copy), await sha256File(imagePath));
  rmSync(copy);

  // the figures update every 500 ms: wait until they show the whole image went through (>= 64 MiB)
  await card.locator('.bytes-served', { hasText: /^((6[4-9]|[7-9]\d|\d{3,})\.\d+ MiB|[\d.]+ GiB)/ }).waitFor();
  assert.match((await card.locator('.throughput').textContent()) ?? '', /\/s$/);
  assert.match((await card.locator('.image').textContent()) ?? '', /boot\.img \(from this browser\)/);
  // VMEDIA_SCREENSHOT=1 refreshes the README's picture of a mounted slot
  const shot =
    process.env.VMEDIA_SCREENSHOT === '1'
      ? path.join(CHECKOUT, 'docs/page-mounted-slot.png')
      : path.join(tmpdir(), 'vmedia-page-serving.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);

  // the session ends elsewhere while serving: the page asks to log in again and keeps serving
  const loggedOut = await page.evaluate(`(async () => {
    const token = decodeURIComponent(document.cookie.match(/XSRF-TOKEN=([^;]*)/)[1]);
    return (await fetch('/logout', { method: 'POST', headers: { 'X-XSRF-TOKEN': token } })).status;
  })()`);
  assert.equal(loggedOut, 200);
  await page.getByRole('button', { name: 'Refresh' }).click();
  await page
    .getByRole('status')
    .filter({ hasText: 'Your session has ended. The files below are still being served' })
    .waitFor();
  await run('nbdinfo', ['--size', `nbd+unix:///?socket=${exportSocket}`]);
  await page.getByLabel('Password', { exact: true }).fill(stack.admin.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('.relogin').waitFor({ state: 'detached' });
  assert.equal(await card.locator('.serving-state').textContent(), 'Mounted: the host can use the image.');

  await card.getByRole('button', { name: 'Stop' }).click();
  await waitForState('Slot_0', 'Not inserted');
  await card.getByRole('status').filter({ hasText: 'Stopped; the media was ejected' }).waitFor();
  const member = await stack.request('/redfish/v1/Managers/bmc/VirtualMedia/Slot_0', { auth: stack.admin });
  assert.equal(member.json.Inserted, false);
});

test("a second browser on a busy Proxy slot is shown the bridge's reason", async () => {
  // page 2 still shows Slot_1 free (its clock is paused, so it does not poll) when page 1 takes it
  const second = await secondPage(stack.operator);
  let served = false;
  try {
    await second.page.clock.pauseAt(Date.now() + 1000);
    const other = second.page.locator('section[data-slot="Slot_1"]');

    await slot('Slot_1').locator('input[type=file]').setInputFiles(imagePath);
    await slot('Slot_1').getByRole('button', { name: 'Mount' }).click();
    await waitForState('Slot_1', 'Inserted');
    served = true;

    await other.locator('input[type=file]').setInputFiles(imagePath);
    await other.getByRole('button', { name: 'Mount' }).click();
    try {
      await other
        .getByRole('alert')
        .filter({ hasText: 'The BMC refused /nbd/1: Slot_1 is already in use by another client' })
        .waitFor();
    } catch (err) {
      // its clock is paused: a screenshot that waits for a frame gives up after 5 s
      const shot = path.join(tmpdir(), 'vmedia-page-second-browser-no-refusal.png');
      const saved = await second.page.screenshot({ path: shot, fullPage: true, timeout: 5000 }).then(
        () => `the second browser's page: ${shot}`,
        (e: Error) => `no screenshot of the second browser's page: ${e.message}`,
      );
      throw new Error(`${(err as Error).message}\n${saved}`);
    }
  } finally {
    await second.close();
    // page 1 gives the slot back whatever happened above: the tests after this one need it free
    if (served) {
      await slot('Slot_1').getByRole('button', { name: 'Stop' }).click();
      await waitForState('Slot_1', 'Not inserted');
    }
  }
});

test('a read-only user may look but the bridge refuses to mount for them', async () => {
  const second = await secondPage(stack.readOnly);
  try {
    const card = second.page.locator('section[data-slot="Slot_1"]');
    await card.locator('input[type=file]').setInputFiles(imagePath);
    await card.getByRole('button', { name: 'Mount' }).click();
    await card
      .getByRole('alert')
      .filter({ hasText: 'The BMC refused the connection to /nbd/1: not logged in, not allowed' })
      .waitFor();
    await card.getByRole('button', { name: 'Mount' }).waitFor(); // the form is back for another try
  } finally {
    await second.close();
  }
});

test('Legacy: a refused InsertMedia shows the DMTF message; the password field is cleared', async () => {
  const card = slot('Slot_2');
  await card.getByLabel('Image URL').fill('tftp://127.0.0.1/images/small.img');
  await card.getByLabel('Password (optional)').fill(remote.password);
  await card.getByRole('button', { name: 'Insert' }).click();
  const alert = card.getByRole('alert');
  await alert
    .filter({
      hasText: "Insert failed: The resource at 'tftp://127.0.0.1/images/small.img' is in a format not recognized",
    })
    .waitFor();
  assert.match((await alert.textContent()) ?? '', /scheme must be one of: http/);
  assert.equal(await card.getByLabel('Password (optional)').inputValue(), '');
});

test('Legacy: insert from an HTTPS server with credentials, then Eject; the password only in request bodies', async () => {
  const card = slot('Slot_2');
  const url = `${images.origin}/images/small.img`;
  await card.getByLabel('Image URL').fill(url);
  await card.getByLabel('Protocol').selectOption('HTTPS');
  await card.getByLabel('User name (optional)').fill(remote.user);
  await card.getByLabel('Password (optional)').fill(remote.password);
  await card.getByRole('button', { name: 'Insert' }).click();
  await waitForState('Slot_2', 'Inserted');
  assert.equal(await card.locator('.image').textContent(), url);
  assert.equal(await card.getByLabel('Password (optional)').inputValue(), '');
  assert.ok(
    images.requests.length > 0 && images.requests.every((r) => r.status < 400),
    JSON.stringify(images.requests),
  );

  await card.getByRole('button', { name: 'Eject' }).click();
  await waitForState('Slot_2', 'Not inserted');

  const carrying = requests.filter((r) => `${r.url} ${r.headers} ${r.body}`.includes(remote.password));
  assert.deepEqual(
    carrying.map((r) => `${r.method} ${new URL(r.url).pathname}`),
    [
      'POST /redfish/v1/Managers/bmc/VirtualMedia/Slot_2/Actions/VirtualMedia.InsertMedia',
      'POST /redfish/v1/Managers/bmc/VirtualMedia/Slot_2/Actions/VirtualMedia.InsertMedia',
    ],
  );
  for (const r of carrying) assert.ok(!r.url.includes(remote.password) && !r.headers.includes(remote.password));
  // the BMC password too: only in the bodies of the logins (the wrong one, the first, the renewal)
  const login = requests.filter((r) => `${r.url} ${r.headers} ${r.body}`.includes(stack.admin.password));
  assert.deepEqual(
    login.map((r) => `${r.method} ${new URL(r.url).pathname} ${r.body.includes(stack.admin.password)}`),
    ['POST /login true', 'POST /login true', 'POST /login true'],
  );
});

test('Legacy: generated NoCloud media from the form fields; the nonce is shown and the host reads the built image', async () => {
  const card = slot('Slot_3');
  await card.getByText('Generated first-boot media').click();
  await card.getByLabel('Format').selectOption('nocloud');
  await card.getByLabel('Host name').fill('node-7.example.net');
  await card
    .getByLabel('SSH public key')
    .fill('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHyr4KfVw5p2n0mE6bq7oE9w4I1m9v2zJ0m9v2zJ0m9v op@bastion');
  await card.getByLabel('Static IPv4').check();
  await card.getByLabel('Address/prefix').fill('192.0.2.10/24');
  await card.getByLabel('Gateway (optional)').fill('192.0.2.1');
  await card.getByRole('button', { name: 'Build and attach' }).click();
  await waitForState('Slot_3', 'Inserted');
  const attached = card.getByRole('status').filter({ hasText: 'Attached nocloud media.' });
  await attached.waitFor();
  const nonce = /Nonce: ([0-9a-f]{32})/.exec((await attached.textContent()) ?? '')?.[1];
  assert.ok(nonce, (await attached.textContent()) ?? undefined);
  assert.equal(await card.locator('.image').textContent(), `generated nocloud "CIDATA", nonce ${nonce}`);
  const sent = requests.find((r) => r.url.endsWith('/Actions/Oem/VmediaVirtualMedia.InsertGeneratedMedia'));
  assert.ok(sent, 'the form posted the OEM action');
  const document = JSON.parse(sent.body) as { meta_data: { hostname: string }; network_data: unknown };
  assert.equal(document.meta_data.hostname, 'node-7.example.net');
  assert.deepEqual(document.network_data, {
    version: 2,
    ethernets: {
      eth0: { match: { name: 'e*' }, addresses: ['192.0.2.10/24'], routes: [{ to: '0.0.0.0/0', via: '192.0.2.1' }] },
    },
  });
  const out = path.join(dir, 'generated.img');
  await run('nbdcopy', [`nbd+unix:///?socket=${stack.slots[3]!.exportSocket}`, out]);
  const built = buildGeneratedMedia(document, { nonce, target: 'usb' });
  assert.ok(readFileSync(out).equals(built.image), 'the host reads the image built from what the form sent');
  await card.getByRole('button', { name: 'Eject' }).click();
  await waitForState('Slot_3', 'Not inserted');
});

test('Log out returns to the login form and ends the session', async () => {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('status').filter({ hasText: 'Logged out.' }).waitFor();
  await page.getByLabel('User name', { exact: true }).waitFor();
  const status = await page.evaluate(
    async () =>
      (await fetch('/redfish/v1/Managers/bmc/VirtualMedia', { headers: { 'X-Requested-With': 'XMLHttpRequest' } }))
        .status,
  );
  assert.equal(status, 401);
});

test('the page is served with a strict Content-Security-Policy, and nothing above was refused by it', async () => {
  assert.deepEqual(cspViolations, []);
  for (const file of ['/', '/app.js', '/worker.js']) {
    const r = await stack.request(file);
    assert.equal(r.status, 200, file);
    const csp = String(r.headers['content-security-policy']);
    for (const directive of [
      "default-src 'self'",
      "worker-src 'self'",
      `connect-src 'self' wss://127.0.0.1:${stack.port}`,
      "frame-ancestors 'none'",
      "object-src 'none'",
    ]) {
      assert.ok(csp.split(/;\s*/).includes(directive), `${file}: ${directive} in ${csp}`);
    }
    assert.equal(r.headers['x-content-type-options'], 'nosniff', file);
  }
});
