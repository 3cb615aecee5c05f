// Cross-site requests riding on a browser's cached Basic credentials (finding 6): only
// application/json bodies are parsed, browser navigations get no Basic challenge (so the browser
// never caches credentials), and state changes or WebSocket upgrades whose Origin is another
// site are refused. Requests without Origin (curl, sushy, scripts) are unaffected.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { startStack, type HttpResponse, type RequestOptions, type Stack } from '../helpers/stack.js';

const VM = '/redfish/v1/Managers/bmc/VirtualMedia';
const INSERT = `${VM}/Slot_2/Actions/VirtualMedia.InsertMedia`;
const EJECT = `${VM}/Slot_3/Actions/VirtualMedia.EjectMedia`;
const EVIL = 'https://evil.example';

describe('cross-site requests', { timeout: 60_000 }, () => {
  let stack: Stack;
  const req = (p: string, opts: RequestOptions = {}): Promise<HttpResponse> =>
    stack.request(p, { auth: stack.admin, ...opts });
  const errorId = (r: HttpResponse) => r.json?.error?.code as string;

  /** The status of a WebSocket upgrade to /nbd/1 (101 when it opened; the client then leaves). */
  const upgrade = (headers: Record<string, string>): Promise<number> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${stack.port}/nbd/1`, { ca: stack.ca, headers });
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        ws.terminate();
        resolve(res.statusCode ?? 0);
      });
      ws.once('open', () => {
        ws.terminate();
        resolve(101);
      });
      ws.once('error', reject);
    });
  const basic = (c: { user: string; password: string }) => ({
    Authorization: `Basic ${Buffer.from(`${c.user}:${c.password}`).toString('base64')}`,
  });

  before(async () => {
    stack = await startStack({ slotTimeout: 2 });
  });
  after(async () => {
    await stack?.stop();
  });

  it('parses only application/json bodies; a text/plain form body is UnrecognizedRequestBody', async () => {
    // what <form enctype="text/plain"> sends: name={"Image":"...","x":" value="}
    const form = '{"Image":"tftp://127.0.0.1/x.iso","x":"="}';
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const r = await req(INSERT, { method: 'POST', body: form, headers: { 'Content-Type': type } });
      assert.equal(r.status, 400, `${type}: ${r.text}`);
      assert.equal(errorId(r), 'Base.1.19.0.UnrecognizedRequestBody', type);
    }
    const untyped = await req(INSERT, { method: 'POST', body: form, headers: { 'Content-Type': '' } });
    assert.equal(errorId(untyped), 'Base.1.19.0.UnrecognizedRequestBody', 'a body without a type');
    for (const type of ['application/json', 'Application/JSON', 'application/json; charset=utf-8']) {
      const json = '{"Image":"tftp://127.0.0.1/x.iso"}';
      const r = await req(INSERT, { method: 'POST', body: json, headers: { 'Content-Type': type } });
      // parsed: the action itself judges the (unsupported) scheme
      assert.equal(errorId(r), 'Base.1.19.0.ResourceAtUriInUnknownFormat', `${type}: ${r.text}`);
    }
    // sushy's EjectMedia: POST with no body and no Content-Type
    assert.equal((await req(EJECT, { method: 'POST', headers: { 'Content-Length': '0' } })).status, 204);
  });

  it('sends no Basic challenge to browser navigations, and keeps it for API clients', async () => {
    const navigation = await stack.request('/redfish/v1/Managers', {
      headers: { Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
    });
    assert.equal(navigation.status, 401);
    assert.equal(navigation.headers['www-authenticate'], undefined, 'no dialog, so no cached credentials');
    assert.equal(errorId(navigation), 'Base.1.19.0.NoValidSession');
    for (const accept of [undefined, 'application/json', '*/*']) {
      const api = await stack.request('/redfish/v1/Managers', { headers: accept ? { Accept: accept } : {} });
      assert.equal(api.headers['www-authenticate'], 'Basic realm="vmedia"', `Accept: ${accept}`);
    }
  });

  it('refuses state changes whose Origin is another site (403), whatever the credentials', async () => {
    for (const origin of [EVIL, 'null', `https://127.0.0.1:${stack.port + 1}`, `https://localhost:${stack.port}`]) {
      const eject = await req(EJECT, { method: 'POST', headers: { Origin: origin, 'Content-Length': '0' } });
      assert.equal(eject.status, 403, `Origin ${origin}: ${eject.text}`);
      assert.equal(errorId(eject), 'Base.1.19.0.InsufficientPrivilege');
    }
    for (const method of ['PATCH', 'PUT', 'DELETE']) {
      const r = await req(`${VM}/Slot_2`, { method, body: { VerifyCertificate: true }, headers: { Origin: EVIL } });
      assert.equal(r.status, 403, method);
    }
    const login = await stack.request('/login', {
      method: 'POST',
      body: { username: stack.admin.user, password: stack.admin.password },
      headers: { Origin: EVIL },
    });
    assert.equal(login.status, 403, 'no cookie session from another site either');
    const read = await req(`${VM}/Slot_2`, { headers: { Origin: EVIL } });
    assert.equal(read.status, 200, 'reads are not state changes (the browser keeps the answer from the other site)');

    const same = await req(EJECT, { method: 'POST', headers: { Origin: stack.baseUrl, 'Content-Length': '0' } });
    assert.equal(same.status, 204, 'the page itself (same origin)');
    assert.equal((await req(EJECT, { method: 'POST', headers: { 'Content-Length': '0' } })).status, 204, 'no Origin');
  });

  it('refuses WebSocket upgrades from another site before anything else', async () => {
    assert.equal(await upgrade({ ...basic(stack.admin), Origin: EVIL }), 403);
    // same origin (or none) goes on to authentication
    const wrong = basic({ user: stack.admin.user, password: 'not-it' });
    assert.equal(await upgrade({ ...wrong, Origin: stack.baseUrl }), 401);
    assert.equal(await upgrade(wrong), 401);
  });
});
