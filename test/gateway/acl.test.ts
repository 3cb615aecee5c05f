// Per-image ACLs on a real gateway process: each token sees, downloads and attaches only the images
// it owns or is granted (to its name, one of its groups, or *), admins see all, and the others are
// 404 (not 403) on the native API and on Ironic's; only the owner or an admin changes the grants,
// and each change is in the audit log. The routes added with the ACLs, rate limits and resumable
// uploads refuse a missing or wrong token (401) and a role below theirs (403).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { HttpResponse } from '../helpers/stack.js';
import { startGatewayProcess, type GatewayProcess, type TokenRole } from './helpers.js';

const NEW_ROUTES: [method: string, path: string, least: TokenRole][] = [
  ['GET', '/api/images/x/grants', 'reader'],
  ['PUT', '/api/images/x/grants/bob', 'operator'],
  ['DELETE', '/api/images/x/grants/bob', 'operator'],
  ['POST', '/api/uploads?name=x.iso', 'operator'],
  ['HEAD', '/api/uploads/x', 'operator'],
  ['GET', '/api/uploads/x', 'operator'],
  ['PATCH', '/api/uploads/x', 'operator'],
  ['PUT', '/api/uploads/x?digest=sha256:00', 'operator'],
  ['DELETE', '/api/uploads/x', 'operator'],
];

const token = () => randomBytes(24).toString('base64url');
const PRINCIPALS = {
  alice: { token: token(), name: 'alice', role: 'operator' as const, groups: ['team'] },
  bob: { token: token(), name: 'bob', role: 'operator' as const },
  carol: { token: token(), name: 'carol', role: 'reader' as const, groups: ['team'] },
  dave: { token: token(), name: 'dave', role: 'reader' as const },
};
type Who = keyof typeof PRINCIPALS | 'admin';

describe('gateway per-image ACLs', () => {
  let gw: GatewayProcess;
  const ids: Record<string, string> = {};
  const as = (who: Who) => (who === 'admin' ? 'admin' : { token: PRINCIPALS[who].token });
  const call = (who: Who, method: string, path: string, body?: unknown): Promise<HttpResponse> =>
    gw.api(path, { method, as: as(who), ...(body !== undefined ? { body } : {}) });
  const listed = async (who: Who) =>
    ((await call(who, 'GET', '/api/images')).json.images as { name: string }[]).map((i) => i.name).sort();

  before(async () => {
    // this file's many refused requests come from one address: the limit is rate-limit.test.ts's
    gw = await startGatewayProcess({
      extraTokens: Object.values(PRINCIPALS),
      extraArgs: ['--rate-limit-auth-failures', '0'],
    });
    for (const [who, name] of [
      ['alice', 'a.iso'],
      ['bob', 'b.iso'],
      ['admin', 'c.iso'],
    ] as const) {
      const up = await gw.api(`/api/images?name=${name}`, {
        method: 'POST',
        as: as(who),
        body: randomBytes(4096).toString('base64'),
        headers: { 'Content-Type': 'application/octet-stream' },
      });
      assert.equal(up.status, 201, up.text);
      assert.equal(up.json.createdBy, who === 'admin' ? 'test-admin' : who);
      assert.deepEqual(up.json.grants, []);
      ids[name] = up.json.id as string;
    }
  });
  // killed: a SIGTERM would wait for the last test's attach to fail its three attempts
  after(async () => {
    await gw?.kill();
    await gw?.stop();
  });

  it('refuses the new routes without a token or with a wrong one (401), and below their role (403)', async () => {
    for (const [method, path, least] of NEW_ROUTES) {
      const none = await gw.api(path, { method, as: null });
      assert.equal(none.status, 401, `${method} ${path} without a token`);
      assert.match(String(none.headers['www-authenticate']), /^Bearer/);
      const wrong = await gw.api(path, { method, as: { token: token() } });
      assert.equal(wrong.status, 401, `${method} ${path} with a wrong token`);
      if (least === 'operator') {
        const low = await gw.api(path, { method, as: 'reader' });
        assert.equal(low.status, 403, `${method} ${path} as reader`);
        if (method !== 'HEAD') assert.match(low.json.error.message, /is reader; this needs operator/);
      }
    }
  });

  it('shows each token its own and granted images, admins all, and 404 for the others', async () => {
    assert.deepEqual(await listed('alice'), ['a.iso']);
    assert.deepEqual(await listed('bob'), ['b.iso']);
    assert.deepEqual(await listed('carol'), []);
    assert.deepEqual(await listed('admin'), ['a.iso', 'b.iso', 'c.iso']);
    for (const path of [`/api/images/${ids['a.iso']}`, '/api/images/a.iso', `/api/images/${ids['a.iso']}/content`]) {
      const hidden = await call('bob', 'GET', path);
      assert.equal(hidden.status, 404, `bob: ${path}`);
      assert.match(hidden.json.error.message, /does not exist/);
    }
    assert.equal((await call('alice', 'GET', `/api/images/${ids['a.iso']}/content`)).status, 200);
    assert.equal((await call('admin', 'GET', '/api/images/b.iso')).json.id, ids['b.iso']);
  });

  it('lets the owner grant to a group, a name or everyone, and revoke; only the owner or an admin', async () => {
    const grants = `/api/images/${ids['a.iso']}/grants`;
    assert.equal((await call('bob', 'PUT', `${grants}/bob`)).status, 404, 'bob does not see a.iso');
    assert.equal((await call('carol', 'PUT', `${grants}/carol`)).status, 403, 'a reader grants nothing');
    assert.equal((await call('alice', 'PUT', `${grants}/not%20a%20name`)).status, 400);

    const team = await call('alice', 'PUT', `${grants}/group:team`);
    assert.equal(team.status, 200, team.text);
    assert.deepEqual(team.json, { image: ids['a.iso'], owner: 'alice', grants: ['group:team'] });
    assert.deepEqual(await listed('carol'), ['a.iso'], 'carol is in the team');
    assert.deepEqual(await listed('dave'), []);
    assert.equal((await call('carol', 'GET', '/api/images/a.iso')).status, 200);

    assert.equal((await call('alice', 'PUT', `${grants}/bob`)).status, 200);
    assert.deepEqual(await listed('bob'), ['a.iso', 'b.iso']);
    const notOwner = await call('bob', 'PUT', `${grants}/dave`);
    assert.equal(notOwner.status, 403, 'a grantee is not the owner');
    assert.match(notOwner.json.error.message, /only alice \(the owner\) or an admin/);

    assert.equal((await call('admin', 'PUT', `/api/images/${ids['c.iso']}/grants/*`)).status, 200);
    assert.deepEqual(await listed('dave'), ['c.iso'], '* is every token');

    const revoked = await call('alice', 'DELETE', `${grants}/bob`);
    assert.deepEqual(revoked.json.grants, ['group:team']);
    assert.deepEqual(await listed('bob'), ['b.iso', 'c.iso']);
    assert.equal((await call('bob', 'GET', grants)).status, 404);
    assert.deepEqual((await call('carol', 'GET', grants)).json.grants, ['group:team']);

    const audit = (await call('admin', 'GET', '/api/audit')).json.audit as {
      who: string;
      action: string;
      detail: string;
    }[];
    assert.deepEqual(
      audit.filter((e) => e.action === 'grant' || e.action === 'revoke').map((e) => `${e.who} ${e.action} ${e.detail}`),
      [
        'alice grant a.iso, group:team',
        'alice grant a.iso, bob',
        'test-admin grant c.iso, *',
        'alice revoke a.iso, bob',
      ],
    );
  });

  it('attaches only visible images, on the native API and on Ironic’s', async () => {
    // the "BMC" is the gateway's own API: it answers 401, so the attach fails at once (no retries)
    const bmc = { name: 'bmc1', redfishUrl: gw.apiUrl, username: 'u', password: 'p', caPem: gw.ca };
    assert.equal((await call('admin', 'POST', '/api/bmcs', bmc)).status, 201);
    // b.iso is bob's: dave (no grant) and alice (granted nothing of bob's) do not find it
    const hidden = await call('alice', 'POST', '/api/attachments', { bmc: 'bmc1', device: 'cd', image: 'b.iso' });
    assert.equal(hidden.status, 404, hidden.text);
    assert.match(hidden.json.error.message, /image b\.iso does not exist/);
    const ironic = await call('alice', 'POST', '/v1/nodes/bmc1/vmedia', {
      device_type: 'cdrom',
      image_url: `https://gw.example/api/images/${ids['b.iso']}`,
    });
    assert.equal(ironic.status, 404, ironic.text);
    assert.match(JSON.parse(ironic.json.error_message as string).faultstring, /does not exist/);
    // c.iso is granted to everyone: the attachment is made (and then fails: that BMC is no BMC)
    const made = await call('alice', 'POST', '/api/attachments', { bmc: 'bmc1', device: 'usb', image: 'c.iso' });
    assert.equal(made.status, 202, made.text);
    assert.equal(made.json.imageId, ids['c.iso']);
  });

  it('lists every attachment to every reader, with the image only to whom may see it (native and Ironic’s)', async () => {
    // a window an hour ahead: the attachment stays scheduled (that BMC is no BMC) and is listed
    const hour = 3600_000;
    const window = {
      start: new Date(Date.now() + hour).toISOString(),
      end: new Date(Date.now() + 2 * hour).toISOString(),
    };
    const made = await call('bob', 'POST', '/api/attachments', { bmc: 'bmc1', device: 'cd', image: 'b.iso', window });
    assert.equal(made.status, 202, made.text);
    assert.equal(made.json.state, 'scheduled');
    const id = made.json.id as string;
    const imageIdSeenBy = async (who: Who) => {
      const listed = (await call(who, 'GET', '/api/attachments?bmc=bmc1')).json.attachments as {
        id: string;
        imageId: string | null;
      }[];
      const one = await call(who, 'GET', `/api/attachments/${id}`);
      assert.equal(one.status, 200, `${who} reads the attachment`);
      assert.equal(listed.find((a) => a.id === id)?.imageId, one.json.imageId, `${who}: list and status agree`);
      return one.json.imageId as string | null;
    };
    assert.equal(await imageIdSeenBy('bob'), ids['b.iso'], 'the owner');
    assert.equal(await imageIdSeenBy('admin'), ids['b.iso'], 'an admin');
    assert.equal(await imageIdSeenBy('alice'), null, 'alice may not see b.iso');
    assert.equal(await imageIdSeenBy('dave'), null, 'nor dave');

    type IronicVmedia = { attachment: string; image_url: string | null; inserted: boolean; state: string };
    const ironicSeenBy = async (who: Who) => {
      const got = await call(who, 'GET', '/v1/nodes/bmc1/vmedia');
      assert.equal(got.status, 200, got.text);
      const entry = (got.json.vmedia as IronicVmedia[]).find((v) => v.attachment === id);
      assert.ok(entry, `${who} sees the scheduled attachment on Ironic's route`);
      return entry;
    };
    const forBob = await ironicSeenBy('bob');
    assert.deepEqual(forBob, {
      device_type: 'cdrom',
      image_url: `/api/images/${ids['b.iso']}`,
      image_download_source: 'local',
      inserted: false,
      state: 'scheduled',
      window,
      attachment: id,
    });
    const forDave = await ironicSeenBy('dave');
    assert.equal(forDave.image_url, null);
    assert.equal(forDave.inserted, false, 'a scheduled attachment is not in the BMC yet');
    assert.equal(JSON.stringify(forDave).includes(ids['b.iso']!), false, 'no trace of b.iso');

    // once bob grants it to dave, dave sees which image it is
    assert.equal((await call('bob', 'PUT', `/api/images/${ids['b.iso']}/grants/dave`)).status, 200);
    assert.equal(await imageIdSeenBy('dave'), ids['b.iso']);
    assert.equal((await ironicSeenBy('dave')).image_url, `/api/images/${ids['b.iso']}`);
    assert.equal((await call('bob', 'DELETE', `/api/attachments/${id}`)).json.state, 'detached', 'cancelled');
    const after = (await call('bob', 'GET', '/v1/nodes/bmc1/vmedia')).json.vmedia as IronicVmedia[];
    assert.equal(
      after.find((v) => v.attachment === id),
      undefined,
      'a cancelled window leaves the list',
    );
  });
});
