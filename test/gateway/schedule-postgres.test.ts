// Windows on PostgreSQL with two gateway processes in front of one real vmedia BMC: both read the
// schedule every second and both try each window, yet each window is opened once, attached once,
// closed once and detached once (the audit they share says so), whichever gateway scheduled it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startGatewayProcess, type GatewayProcess } from './helpers.js';
import { startGatewayWithBmc, BMC, type GatewayWithBmc } from './one-bmc.js';
import { startPostgres, type PostgresServer } from './postgres-server.js';

const DEVICES = ['cd', 'usb'] as const;
const iso = (ms: number) => new Date(ms).toISOString();

describe('gateway windows: two gateways on one PostgreSQL', { timeout: 240_000 }, () => {
  let pg: PostgresServer | undefined;
  let t: GatewayWithBmc | undefined;
  let second: GatewayProcess | undefined;
  let imageId = '';

  before(async () => {
    pg = await startPostgres();
    t = await startGatewayWithBmc(['--postgres', pg.connectionString]);
    second = await startGatewayProcess({ extraArgs: ['--postgres', pg.connectionString] });
    writeFileSync(path.join(t.stack.trustStore, 'gateway-2.pem'), second.ca);
    const up = await t.gw.raw('/api/images?name=shared.iso', {
      method: 'POST',
      as: 'operator',
      body: randomBytes(1024 * 1024),
    });
    assert.equal(up.status, 201, up.body.toString());
    imageId = (JSON.parse(up.body.toString()) as { id: string }).id;
    // the image store both gateways read (a shared directory or registry in production)
    const from = path.join(t.gw.stateDir, 'images');
    for (const f of readdirSync(from).filter((f) => f.startsWith(imageId)))
      copyFileSync(path.join(from, f), path.join(second.stateDir, 'images', f));
  });
  after(async () => {
    await second?.stop();
    await t?.stop();
    await pg?.stop();
  });

  it('no window is acted on twice; each is opened, attached, closed and detached once', async () => {
    const gateways = [t!.gw, second!];
    const start = Date.now() + 2000;
    // one window per device, each scheduled through another gateway: they never contend for a device
    const ids = await Promise.all(
      DEVICES.map(async (device, i) => {
        const res = await gateways[i]!.api('/api/attachments', {
          method: 'POST',
          as: 'operator',
          body: { bmc: BMC, device, image: imageId, window: { start: iso(start), end: iso(start + 10_000) } },
        });
        assert.equal(res.status, 202, res.text);
        assert.equal(res.json.state, 'scheduled');
        return res.json.id as string;
      }),
    );
    for (const id of ids) await t!.waitState(id, 'detached', 90_000);
    for (const device of DEVICES) assert.equal((await t!.slot(device)).Inserted, false);

    const audit = (await second!.api('/api/audit?limit=10000')).json.audit as { action: string; detail: string }[];
    for (const id of ids) {
      const actions = audit.filter((e) => e.detail.includes(id)).map((e) => e.action);
      assert.deepEqual(actions, ['schedule', 'window opened', 'attached', 'window closed', 'detached'], id);
    }
  });
});
