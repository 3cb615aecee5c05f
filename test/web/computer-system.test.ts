// Systems/system against the host's power and boot services over D-Bus (a fixture serving
// phosphor-state-manager's and phosphor-settingsd's objects on the stack's bus): every Redfish
// value read, PATCHed or posted ⇄ the exact phosphor value, as bmcweb's systems.hpp maps them;
// Ironic's virtual-media boot through sushy unmodified (and through Ironic's own code when
// Debian's python3-ironic is installed); the DMTF errors; no host service at all.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  BOOT_PATH,
  BootMode,
  BootSource,
  BootType,
  CHASSIS_PATH,
  ChassisTransition,
  HOST_PATH,
  HostState,
  HostTransition,
  IFACE,
  ONE_TIME_PATH,
} from '../../src/dbus/phosphor.js';
import { startPhosphorFixture, type PhosphorFixture, type PhosphorWrite } from '../helpers/phosphor-fixture.js';
import { startStack, type HttpResponse, type RequestOptions, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';
import { startImageServer, type ImageServer } from '../sources/helpers/image-server.js';
import { createTestCa } from '../sources/helpers/test-ca.js';

const CLIENT = fileURLToPath(new URL('./ironic-boot-client.py', import.meta.url));
const SYSTEM = '/redfish/v1/Systems/system';
const RESET = `${SYSTEM}/Actions/ComputerSystem.Reset`;

/** The phosphor writes, built from the virtual host's copy of phosphor-dbus-interfaces' names. */
const write = {
  source: (v: keyof typeof BootSource): PhosphorWrite => ({
    path: BOOT_PATH,
    iface: IFACE.bootSource,
    property: 'BootSource',
    value: BootSource[v],
  }),
  mode: (v: keyof typeof BootMode): PhosphorWrite => ({
    path: BOOT_PATH,
    iface: IFACE.bootMode,
    property: 'BootMode',
    value: BootMode[v],
  }),
  type: (v: keyof typeof BootType): PhosphorWrite => ({
    path: BOOT_PATH,
    iface: IFACE.bootType,
    property: 'BootType',
    value: BootType[v],
  }),
  override: (value: boolean): PhosphorWrite => ({ path: BOOT_PATH, iface: IFACE.enable, property: 'Enabled', value }),
  oneTime: (value: boolean): PhosphorWrite => ({
    path: ONE_TIME_PATH,
    iface: IFACE.enable,
    property: 'Enabled',
    value,
  }),
  host: (v: keyof typeof HostTransition): PhosphorWrite => ({
    path: HOST_PATH,
    iface: IFACE.host,
    property: 'RequestedHostTransition',
    value: HostTransition[v],
  }),
  chassis: (v: keyof typeof ChassisTransition): PhosphorWrite => ({
    path: CHASSIS_PATH,
    iface: IFACE.chassis,
    property: 'RequestedPowerTransition',
    value: ChassisTransition[v],
  }),
};

describe('Systems/system over the phosphor power and boot objects', { timeout: 120_000 }, () => {
  let stack: Stack;
  let fixture: PhosphorFixture;
  let server: ImageServer;
  let dir: string;
  let imageUrl: string;
  let token: string;

  const req = (p: string, opts: RequestOptions = {}): Promise<HttpResponse> =>
    stack.request(p, { ...opts, headers: { 'X-Auth-Token': token, ...opts.headers } });
  const patch = (body: unknown, headers: Record<string, string> = {}) =>
    req(SYSTEM, { method: 'PATCH', body, headers });
  const reset = (body: unknown) => req(RESET, { method: 'POST', body });
  const expectError = (r: HttpResponse, status: number, messageId: string) => {
    assert.equal(r.status, status, r.text);
    assert.equal(r.json.error['@Message.ExtendedInfo'][0].MessageId, `Base.1.19.0.${messageId}`, r.text);
  };
  const setBoot = (s: {
    source?: keyof typeof BootSource;
    mode?: keyof typeof BootMode;
    type?: keyof typeof BootType;
    override?: boolean;
    oneTime?: boolean;
  }) => {
    fixture.set(BOOT_PATH, IFACE.bootSource, 'BootSource', BootSource[s.source ?? 'Default']);
    fixture.set(BOOT_PATH, IFACE.bootMode, 'BootMode', BootMode[s.mode ?? 'Regular']);
    fixture.set(BOOT_PATH, IFACE.bootType, 'BootType', BootType[s.type ?? 'EFI']);
    fixture.set(BOOT_PATH, IFACE.enable, 'Enabled', s.override ?? false);
    fixture.set(ONE_TIME_PATH, IFACE.enable, 'Enabled', s.oneTime ?? false);
  };

  /** Runs the Ironic client; resolves with its JSON step lines, rejects with its output on failure. */
  const ironic = (mode: 'sushy' | 'ironic'): Promise<Record<string, unknown>[]> =>
    new Promise((resolve, reject) => {
      // the web's CA goes to sushy as verify=; no bundle from the environment may replace it
      const { REQUESTS_CA_BUNDLE: _requests, CURL_CA_BUNDLE: _curl, ...inherited } = process.env;
      const env = { ...inherited, PYTHONWARNINGS: 'ignore' };
      const child = spawn(
        '/usr/bin/python3',
        [CLIENT, stack.baseUrl, stack.operator.user, stack.caPath, imageUrl, mode],
        { env, stdio: ['pipe', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.stdin.end(`${stack.operator.password}\n`);
      child.once('close', (code) => {
        if (code !== 0) return reject(new Error(`ironic client exited ${code}:\n${err}\n${out}`));
        resolve(
          out
            .trim()
            .split('\n')
            .map((l) => JSON.parse(l) as Record<string, unknown>),
        );
      });
    });

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vmedia-system-'));
    const ca = createTestCa(dir);
    const image = path.join(dir, 'deploy.iso');
    writeFileSync(image, Buffer.alloc(1024 * 1024, 0x42));
    server = await startImageServer({
      files: new Map([['/ironic/deploy.iso', image]]),
      tls: { key: ca.serverKey, cert: ca.serverCert },
      host: '127.0.0.1',
    });
    imageUrl = `${server.origin}/ironic/deploy.iso`;
    // a CD Proxy slot that a collection in name order would offer Ironic first, and a USB stick
    // Legacy slot before the CD one: Ironic must end up in Slot_3
    stack = await startStack({ mediaTypes: { Slot_0: 'CD', Slot_2: 'USBStick', Slot_3: 'CD' } });
    copyFileSync(ca.caCertFile, path.join(stack.trustStore, 'image-server-ca.pem'));
    fixture = await startPhosphorFixture(stack.busAddress);
    const login = await stack.request('/redfish/v1/SessionService/Sessions', {
      method: 'POST',
      body: { UserName: stack.operator.user, Password: stack.operator.password },
    });
    token = String(login.headers['x-auth-token']);
  });
  after(async () => {
    fixture?.stop();
    await stack?.stop();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves Boot, Actions and the links sushy needs, and MediaTypes by slot, Legacy slots first', async () => {
    const system = (await req(SYSTEM)).json;
    assert.deepEqual(system.Boot, {
      BootSourceOverrideEnabled: 'Disabled',
      'BootSourceOverrideEnabled@Redfish.AllowableValues': ['Disabled', 'Once', 'Continuous'],
      BootSourceOverrideTarget: 'None',
      'BootSourceOverrideTarget@Redfish.AllowableValues': ['None', 'Pxe', 'Hdd', 'Cd', 'Diags', 'BiosSetup', 'Usb'],
      BootSourceOverrideMode: 'UEFI',
      'BootSourceOverrideMode@Redfish.AllowableValues': ['Legacy', 'UEFI'],
    });
    assert.deepEqual(system.Actions, {
      '#ComputerSystem.Reset': {
        target: RESET,
        'ResetType@Redfish.AllowableValues': [
          'On',
          'ForceOff',
          'GracefulShutdown',
          'ForceRestart',
          'GracefulRestart',
          'PowerCycle',
        ],
      },
    });
    assert.deepEqual(system.Links, { ManagedBy: [{ '@odata.id': '/redfish/v1/Managers/bmc' }] });
    assert.equal(system.VirtualMedia['@odata.id'], `${SYSTEM}/VirtualMedia`);

    const vm = '/redfish/v1/Managers/bmc/VirtualMedia';
    const members = (await req(vm)).json.Members.map((m: { '@odata.id': string }) => m['@odata.id']);
    assert.deepEqual(
      members,
      ['Slot_2', 'Slot_3', 'Slot_0', 'Slot_1'].map((s) => `${vm}/${s}`),
    );
    assert.deepEqual((await req(`${SYSTEM}/VirtualMedia`)).json.Members.length, 4);
    const types = await Promise.all(members.map(async (m: string) => (await req(m)).json.MediaTypes));
    assert.deepEqual(types, [['USBStick'], ['CD', 'DVD'], ['CD', 'DVD'], ['USBStick']]);
  });

  it('reads CurrentHostState as bmcweb maps it to PowerState and Status.State', async () => {
    const table: [keyof typeof HostState, string, string][] = [
      ['Off', 'Off', 'Disabled'],
      ['Running', 'On', 'Enabled'],
      ['Quiesced', 'On', 'Quiesced'],
      ['DiagnosticMode', 'On', 'InTest'],
      ['TransitioningToRunning', 'PoweringOn', 'Starting'],
      ['TransitioningToOff', 'PoweringOff', 'Disabled'],
      ['Standby', 'Paused', 'StandbyOffline'],
    ];
    for (const [state, power, status] of table) {
      fixture.set(HOST_PATH, IFACE.host, 'CurrentHostState', HostState[state]);
      const system = (await req(SYSTEM)).json;
      assert.deepEqual([system.PowerState, system.Status.State], [power, status], state);
    }
    fixture.set(HOST_PATH, IFACE.host, 'CurrentHostState', HostState.Off);
  });

  it('reads the boot settings as bmcweb maps them to the Boot properties', async () => {
    const table: [Parameters<typeof setBoot>[0], Record<string, string | undefined>][] = [
      [{}, { BootSourceOverrideTarget: 'None', BootSourceOverrideMode: 'UEFI', BootSourceOverrideEnabled: 'Disabled' }],
      [{ source: 'Disk' }, { BootSourceOverrideTarget: 'Hdd' }],
      [{ source: 'ExternalMedia' }, { BootSourceOverrideTarget: 'Cd' }],
      [{ source: 'Network' }, { BootSourceOverrideTarget: 'Pxe' }],
      [{ source: 'RemovableMedia' }, { BootSourceOverrideTarget: 'Usb' }],
      [{ source: 'HTTP' }, { BootSourceOverrideTarget: 'UefiHttp' }],
      [{ source: 'USB' }, { BootSourceOverrideTarget: undefined }],
      [{ source: 'ExternalMedia', mode: 'Setup' }, { BootSourceOverrideTarget: 'BiosSetup' }],
      [{ source: 'Disk', mode: 'Safe' }, { BootSourceOverrideTarget: 'Diags' }],
      [{ type: 'Legacy' }, { BootSourceOverrideMode: 'Legacy' }],
      [{ override: false, oneTime: true }, { BootSourceOverrideEnabled: 'Disabled' }],
      [{ override: true, oneTime: true }, { BootSourceOverrideEnabled: 'Once' }],
      [{ override: true, oneTime: false }, { BootSourceOverrideEnabled: 'Continuous' }],
    ];
    for (const [settings, expected] of table) {
      setBoot(settings);
      const { Boot } = (await req(SYSTEM)).json;
      for (const [property, value] of Object.entries(expected)) {
        assert.equal(Boot[property], value, `${JSON.stringify(settings)}: ${property}`);
      }
    }
    setBoot({});
  });

  it('PATCHes each Boot value as the D-Bus writes bmcweb makes, in its order', async () => {
    const table: [Record<string, string>, PhosphorWrite[]][] = [
      [{ BootSourceOverrideTarget: 'None' }, [write.source('Default'), write.mode('Regular')]],
      [{ BootSourceOverrideTarget: 'Pxe' }, [write.source('Network'), write.mode('Regular')]],
      [{ BootSourceOverrideTarget: 'Hdd' }, [write.source('Disk'), write.mode('Regular')]],
      [{ BootSourceOverrideTarget: 'Cd' }, [write.source('ExternalMedia'), write.mode('Regular')]],
      [{ BootSourceOverrideTarget: 'Usb' }, [write.source('RemovableMedia'), write.mode('Regular')]],
      [{ BootSourceOverrideTarget: 'Diags' }, [write.source('Default'), write.mode('Safe')]],
      [{ BootSourceOverrideTarget: 'BiosSetup' }, [write.source('Default'), write.mode('Setup')]],
      [{ BootSourceOverrideMode: 'UEFI' }, [write.type('EFI')]],
      [{ BootSourceOverrideMode: 'Legacy' }, [write.type('Legacy')]],
      [{ BootSourceOverrideEnabled: 'Disabled' }, [write.override(false)]],
      [{ BootSourceOverrideEnabled: 'Once' }, [write.override(true), write.oneTime(true)]],
      [{ BootSourceOverrideEnabled: 'Continuous' }, [write.override(true), write.oneTime(false)]],
      [
        { BootSourceOverrideEnabled: 'Once', BootSourceOverrideMode: 'UEFI', BootSourceOverrideTarget: 'Cd' },
        [
          write.source('ExternalMedia'),
          write.mode('Regular'),
          write.type('EFI'),
          write.override(true),
          write.oneTime(true),
        ],
      ],
    ];
    for (const [boot, expected] of table) {
      fixture.clearWrites();
      const r = await patch({ Boot: boot });
      assert.equal(r.status, 204, r.text);
      assert.deepEqual(fixture.writes, expected, JSON.stringify(boot));
    }
    setBoot({});
  });

  it('posts each ResetType as the transition bmcweb requests, 204', async () => {
    const table: [string, PhosphorWrite][] = [
      ['On', write.host('On')],
      ['ForceOff', write.chassis('Off')],
      ['GracefulShutdown', write.host('Off')],
      ['ForceRestart', write.host('ForceWarmReboot')],
      ['GracefulRestart', write.host('GracefulWarmReboot')],
      ['PowerCycle', write.host('Reboot')],
    ];
    for (const [resetType, expected] of table) {
      fixture.clearWrites();
      const r = await reset({ ResetType: resetType });
      assert.equal(r.status, 204, r.text);
      assert.deepEqual(fixture.writes, [expected], resetType);
    }
  });

  it('applies a PATCH with If-Match only while the ETag still holds', async () => {
    const etag = (await req(SYSTEM)).headers.etag;
    assert.equal(typeof etag, 'string');
    const body = { Boot: { BootSourceOverrideMode: 'UEFI' } };
    assert.equal((await patch(body, { 'If-Match': String(etag) })).status, 204);
    assert.equal((await patch(body, { 'If-Match': '*' })).status, 204);
    fixture.clearWrites();
    expectError(await patch(body, { 'If-Match': '"0123456789abcdef"' }), 412, 'PreconditionFailed');
    assert.deepEqual(fixture.writes, []);
  });

  it('refuses bad PATCH and Reset bodies with the DMTF 4xx, writing nothing', async () => {
    const table: [() => Promise<HttpResponse>, number, string][] = [
      [() => patch({ Boot: { BootSourceOverrideTarget: 'Floppy' } }), 400, 'PropertyValueNotInList'],
      [() => patch({ Boot: { BootSourceOverrideEnabled: 'Sometimes' } }), 400, 'PropertyValueNotInList'],
      [() => patch({ Boot: { BootSourceOverrideMode: 'BIOS' } }), 400, 'PropertyValueNotInList'],
      [
        () => patch({ Boot: { BootSourceOverrideTarget: 'Cd', BootSourceOverrideMode: 'BIOS' } }),
        400,
        'PropertyValueNotInList',
      ],
      [() => patch({ Boot: { BootSourceOverrideMode: 1 } }), 400, 'PropertyValueTypeError'],
      [() => patch({ Boot: 'Cd' }), 400, 'PropertyValueTypeError'],
      [() => patch({ Boot: { BootNext: 'Boot0001' } }), 400, 'PropertyUnknown'],
      [() => patch({ AssetTag: 'rack 4' }), 400, 'PropertyUnknown'],
      [() => patch({ PowerState: 'On' }), 400, 'PropertyNotWritable'],
      [() => reset({}), 400, 'ActionParameterMissing'],
      [() => reset({ ResetType: 'Nmi' }), 400, 'ActionParameterNotSupported'],
      [() => reset({ ResetType: 'Off' }), 400, 'ActionParameterNotSupported'],
      [() => reset({ ResetType: 1 }), 400, 'PropertyValueTypeError'],
      [() => reset({ ResetType: 'On', Force: true }), 400, 'ActionParameterUnknown'],
      [
        () => stack.request(SYSTEM, { method: 'PATCH', auth: stack.readOnly, body: { Boot: {} } }),
        403,
        'InsufficientPrivilege',
      ],
      [
        () => stack.request(RESET, { method: 'POST', auth: stack.readOnly, body: { ResetType: 'On' } }),
        403,
        'InsufficientPrivilege',
      ],
    ];
    fixture.clearWrites();
    for (const [send, status, messageId] of table) expectError(await send(), status, messageId);
    assert.deepEqual(fixture.writes, []);
  });

  it("runs Ironic's virtual-media boot through sushy: CD slot, InsertMedia, Cd/Once/UEFI, Reset On, eject", async () => {
    fixture.clearWrites();
    const steps = await ironic('sushy');
    assert.deepEqual(steps, [
      { step: 'system', power: 'Off', managers: ['bmc'] },
      { step: 'inserted', slot: 'Slot_3', cds: [{ slot: 'Slot_3', image: imageUrl }] },
      { step: 'boot', target: 'Cd', enabled: 'Once', mode: 'UEFI' },
      { step: 'reset' },
      { step: 'ejected', cds: [] },
    ]);
    assert.deepEqual(fixture.writes, [
      write.source('ExternalMedia'),
      write.mode('Regular'),
      write.type('EFI'),
      write.override(true),
      write.oneTime(true),
      write.host('On'),
    ]);
  });

  it("inserts and ejects through Ironic's own _insert_vmedia/_eject_vmedia", async () => {
    // scripts/setup.sh --test installs Debian's python3-ironic: without it this fails, never skips
    const probe = spawnSync('/usr/bin/python3', ['-c', 'import ironic.drivers.modules.redfish.boot'], {
      encoding: 'utf8',
    });
    assert.equal(probe.status, 0, `python3-ironic is missing (run scripts/setup.sh --test): ${probe.stderr}`);
    assert.deepEqual((await ironic('ironic')).slice(1), [
      { step: 'inserted', cds: [{ slot: 'Slot_3', image: imageUrl }] },
      { step: 'ejected', cds: [] },
    ]);
  });

  it('without host services: Boot and Actions still there, PowerState not; Reset and PATCH 503', async () => {
    fixture.stop();
    const system = await waitFor('the host services to leave the bus', async () => {
      const json = (await req(SYSTEM)).json;
      return json.PowerState === undefined && json;
    });
    assert.deepEqual(Object.keys(system.Boot), [
      'BootSourceOverrideEnabled@Redfish.AllowableValues',
      'BootSourceOverrideTarget@Redfish.AllowableValues',
      'BootSourceOverrideMode@Redfish.AllowableValues',
    ]);
    assert.equal(system.Actions['#ComputerSystem.Reset'].target, RESET);
    const refused = await reset({ ResetType: 'On' });
    expectError(refused, 503, 'ServiceTemporarilyUnavailable');
    assert.equal(refused.headers['retry-after'], '10');
    expectError(await patch({ Boot: { BootSourceOverrideTarget: 'Cd' } }), 503, 'ServiceTemporarilyUnavailable');
  });
});
