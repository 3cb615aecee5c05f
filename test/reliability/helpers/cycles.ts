// One mount/unmount cycle per mode, each checked end to end: the Completion values, the image's
// bytes as the host reads them (nbdcopy on the slot's ExportSocket), and the slot socket gone.
// Cycles alternate the two ways each mode is mounted and ended in real use.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { slotPath } from '../../../src/dbus/names.js';
import { waitFor } from '../../helpers/wait.js';
import { basicAuth, connectWsNbdServer, type WsNbdServer } from '../../web/ws-nbd-server.js';
import { VIRTUAL_MEDIA, type Fixture } from './fixture.js';

const ECONNREFUSED = 111;

/** sha256 of the whole export on `socket`, read by nbdcopy (a host reading the disk). */
export function exportSha(socket: string, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'nbdcopy',
      [`nbd+unix:///?socket=${socket}`, '-'],
      { encoding: 'buffer', maxBuffer: maxBytes + 1, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`nbdcopy: ${err.message} ${stderr.toString()}`));
        else resolve(createHash('sha256').update(stdout).digest('hex'));
      },
    );
  });
}

export interface BrowserLogin {
  /** Cookie header of a /login session. */
  cookies: string;
  /** Its XSRF token, offered as the WebSocket subprotocol (what the page does). */
  xsrf: string;
}

/** Logs in as the page does (POST /login): one session reused by every cookie cycle. */
export async function browserLogin(fx: Fixture): Promise<BrowserLogin> {
  const login = await fx.request('/login', {
    method: 'POST',
    body: { username: fx.stack.operator.user, password: fx.stack.operator.password },
  });
  assert.equal(login.status, 200, login.text);
  const cookies = (login.headers['set-cookie'] as string[]).map((c) => c.split(';')[0]).join('; ');
  return { cookies, xsrf: login.json.token as string };
}

/** A "browser" serving the image on /nbd/<n>: Basic auth, or the page's cookie + XSRF subprotocol. */
export function connectBrowser(fx: Fixture, endpoint: string, login?: BrowserLogin): Promise<WsNbdServer> {
  const url = `wss://127.0.0.1:${fx.stack.port}${endpoint}`;
  const auth = login
    ? { headers: { Cookie: login.cookies }, protocols: [login.xsrf] }
    : { headers: basicAuth(fx.stack.operator.user, fx.stack.operator.password) };
  return connectWsNbdServer(url, { ca: fx.stack.ca, image: fx.image.file, ...auth });
}

export type ProxyEnd = 'eject' | 'client-close';

/**
 * Proxy through the web bridge: the browser connects (the bridge Mounts: Completion 0), the host
 * reads the whole image, then either Redfish EjectMedia (Completion 0, the WebSocket closed 1000)
 * or the browser leaves (the mount ends as lost: Completion ECONNREFUSED).
 */
export async function proxyCycle(fx: Fixture, slotName: string, end: ProxyEnd, login?: BrowserLogin): Promise<void> {
  const slot = fx.slot(slotName);
  const path = slotPath('Proxy', slot.name);
  const seen = fx.bus.completions(path).length;
  const browser = await connectBrowser(fx, slot.endpoint, login);
  assert.equal(browser.protocol, login?.xsrf ?? '', 'the bridge accepted the upgrade');
  assert.equal(await fx.bus.completion(path, seen + 1), 0, 'mounted');
  assert.equal(await exportSha(slot.exportSocket, fx.image.bytes), fx.image.sha, 'the host reads the image');
  if (end === 'eject') {
    const eject = await fx.request(`${VIRTUAL_MEDIA}/${slot.name}/Actions/VirtualMedia.EjectMedia`, {
      method: 'POST',
      auth: fx.stack.operator,
      body: {},
    });
    assert.equal(eject.status, 204, eject.text);
    assert.equal(await fx.bus.completion(path, seen + 2), 0, 'a requested eject completes with 0');
    assert.equal((await browser.ended).code, 1000, 'the bridge closed the WebSocket normally');
  } else {
    browser.ws.close();
    assert.equal(await fx.bus.completion(path, seen + 2), ECONNREFUSED, 'a browser gone ends the mount as lost');
    await browser.ended;
  }
  await waitFor(`${slot.name}'s socket removed by the bridge`, () => !existsSync(slot.socket));
}

export type LegacyVia = 'redfish' | 'dbus';

/**
 * Legacy HTTPS with basic auth and a presigned-style URL: Redfish InsertMedia (UserName/Password)
 * and EjectMedia, or D-Bus Mount(sbv) with a credentials pipe and Unmount; the host reads the
 * whole image in between. Both end with the daemon's Completion 0.
 */
export async function legacyCycle(fx: Fixture, slotName: string, via: LegacyVia): Promise<void> {
  const slot = fx.slot(slotName);
  const { imageUser, password } = fx.secrets;
  if (via === 'redfish') {
    const insert = await fx.request(`${VIRTUAL_MEDIA}/${slot.name}/Actions/VirtualMedia.InsertMedia`, {
      method: 'POST',
      auth: fx.stack.operator,
      body: { Image: fx.imageUrl, TransferProtocolType: 'HTTPS', UserName: imageUser, Password: password },
    });
    assert.equal(insert.status, 204, insert.text);
  } else {
    const client = await fx.legacy(slot.name);
    assert.equal(await client.mountWithPipe(fx.imageUrl, imageUser, password, 'sbv'), 0, 'Mount completes with 0');
  }
  assert.equal(await exportSha(slot.exportSocket, fx.image.bytes), fx.image.sha, 'the host reads the image');
  if (via === 'redfish') {
    const eject = await fx.request(`${VIRTUAL_MEDIA}/${slot.name}/Actions/VirtualMedia.EjectMedia`, {
      method: 'POST',
      auth: fx.stack.operator,
      body: {},
    });
    assert.equal(eject.status, 204, eject.text);
  } else {
    assert.equal(await (await fx.legacy(slot.name)).unmount(), 0, 'Unmount completes with 0');
  }
  assert.ok(!existsSync(slot.socket), `${slot.name}'s socket is gone once ejected`);
}
