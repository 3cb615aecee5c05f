// What DMTF's Redfish Protocol and Service Validators check, against the whole stack: $metadata
// and the OData service document (public, every namespace we answer with referenced), 405 with
// Allow for every method a resource lacks, Allow and Link on every GET/HEAD, OData-Version 412,
// POST to Sessions/Members, AccountService, If-Match, ActionInfo and Certificate property
// formats, the OpenBMC OEM object, and the members under Systems/system/VirtualMedia. Every
// resource is found by walking the links from the service root, so a new one is checked too.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { startStack, type HttpResponse, type RequestOptions, type Stack } from '../helpers/stack.js';

const MANAGER_VM = '/redfish/v1/Managers/bmc/VirtualMedia';
const SYSTEM_VM = '/redfish/v1/Systems/system/VirtualMedia';
const SESSIONS = '/redfish/v1/SessionService/Sessions';
const METHODS = ['GET', 'PUT', 'PATCH', 'POST', 'DELETE'];
/** Where bmcweb serves the OEM CSDL, and so do we. */
/** OpenBMC's (Oem.OpenBMC of Proxy members) and ours (Oem.Vmedia of Legacy members). */
const OEM_SCHEMAS = ['/redfish/v1/schema/OpenBMCVirtualMedia_v1.xml', '/redfish/v1/schema/VmediaVirtualMedia_v1.xml'];

interface Resource {
  uri: string;
  /** The parsed GET body; undefined for action targets (POST only). */
  body?: Record<string, unknown>;
}

/** Every string value under the key `key` anywhere in `value`. */
function valuesOf(value: unknown, key: string): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => valuesOf(v, key));
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => (k === key && typeof v === 'string' ? [v] : valuesOf(v, key)));
}

/** '#VirtualMedia.v1_6_3.VirtualMedia' → 'VirtualMedia.v1_6_3'. */
function namespaceOf(odataType: string): string {
  return odataType.slice(1).split('.').slice(0, -1).join('.');
}

interface Csdl {
  references: { uri: string; namespaces: string[] }[];
  /** Whether DataServices/Schema/EntityContainer exists (what the Protocol Validator looks for). */
  entityContainer: boolean;
  /** Whether every edmx:Reference comes before edmx:DataServices (CSDL §3.3). */
  referencesFirst: boolean;
  /** The Namespace of each DataServices/Schema. */
  schemas: string[];
}

/**
 * Parses CSDL documents with a real XML parser (Python's, one process for all), so a document
 * that is not well-formed fails.
 */
function parseCsdl(xmls: string[]): Csdl[] {
  const script = `
import json, sys, xml.etree.ElementTree as ET
EDMX = '{http://docs.oasis-open.org/odata/ns/edmx}'
EDM = '{http://docs.oasis-open.org/odata/ns/edm}'
def parse(xml):
    root = ET.fromstring(xml)
    tags = [c.tag for c in root]
    refs = [{'uri': r.get('Uri'), 'namespaces': [i.get('Namespace') for i in r.findall(EDMX + 'Include')]}
            for r in root.findall(EDMX + 'Reference')]
    ds = root.find(EDMX + 'DataServices')
    schemas = ds.findall(EDM + 'Schema') if ds is not None else []
    last_ref = max((i for i, t in enumerate(tags) if t == EDMX + 'Reference'), default=-1)
    return {'references': refs, 'schemas': [s.get('Namespace') for s in schemas],
            'entityContainer': any(s.find(EDM + 'EntityContainer') is not None for s in schemas),
            'referencesFirst': ds is not None and last_ref < tags.index(EDMX + 'DataServices')}
print(json.dumps([parse(x) for x in json.load(sys.stdin)]))
`;
  const out = execFileSync('python3', ['-c', script], { input: JSON.stringify(xmls), encoding: 'utf8' });
  return JSON.parse(out) as Csdl[];
}

describe('Redfish conformance (DSP0266, as the DMTF validators check it)', { timeout: 60_000 }, () => {
  let stack: Stack;
  /** Every resource reachable from the service root, and every action target. */
  const resources: Resource[] = [];
  /** GET $metadata and the OEM CSDL without credentials, as a validator fetches them; parsed. */
  let metadata: HttpResponse;
  let metadataCsdl: Csdl;
  let oemCsdls: Csdl[];

  const req = (p: string, opts: RequestOptions = {}): Promise<HttpResponse> =>
    stack.request(p, { auth: stack.admin, ...opts });
  const expectError = (r: HttpResponse, status: number, messageId: string) => {
    assert.equal(r.status, status, `${status} expected: ${r.text}`);
    assert.equal(r.json.error.code, `Base.1.19.0.${messageId}`, r.text);
  };

  /** Breadth-first over @odata.id links (and action targets) from the service root. */
  async function crawl(): Promise<void> {
    const seen = new Set<string>();
    const queue = ['/redfish/v1'];
    while (queue.length > 0) {
      const uri = queue.shift()!;
      if (seen.has(uri)) continue;
      seen.add(uri);
      const r = await req(uri);
      assert.equal(r.status, 200, `GET ${uri}: ${r.text}`);
      resources.push({ uri, body: r.json });
      for (const link of [...valuesOf(r.json, '@odata.id'), ...valuesOf(r.json, '@Redfish.ActionInfo')]) {
        const target = link.split('#')[0]!;
        if (target.startsWith('/redfish/v1') && !seen.has(target)) queue.push(target);
      }
      for (const target of valuesOf(r.json, 'target')) resources.push({ uri: target });
    }
  }

  before(async () => {
    stack = await startStack();
    // a session, so the crawl meets a Session too; a certificate of a known serial number
    const login = await stack.request(SESSIONS, {
      method: 'POST',
      body: { UserName: stack.admin.user, Password: stack.admin.password },
    });
    assert.equal(login.status, 201, login.text);
    const pem = execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        '/dev/null',
        '-subj',
        '/CN=Conformance CA',
        '-days',
        '2',
        '-set_serial',
        '0x0abc12',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
      ],
      { encoding: 'utf8' },
    );
    const added = await req('/redfish/v1/Managers/bmc/Truststore/Certificates', {
      method: 'POST',
      body: { CertificateString: pem },
    });
    assert.equal(added.status, 201, added.text);
    await crawl();
    metadata = await stack.request('/redfish/v1/$metadata', { headers: { Accept: 'application/xml' } });
    const oems = await Promise.all(OEM_SCHEMAS.map((uri) => stack.request(uri)));
    for (const oem of oems) assert.equal(oem.status, 200, oem.text);
    [metadataCsdl, ...oemCsdls] = parseCsdl([metadata.text, ...oems.map((o) => o.text)]) as [Csdl, ...Csdl[]];
  });
  after(async () => {
    await stack?.stop();
  });

  it('serves $metadata (CSDL) and the OData service document without authentication', async () => {
    assert.equal(metadata.status, 200, metadata.text);
    assert.match(String(metadata.headers['content-type']), /^application\/xml(; ?charset=utf-8)?$/i);
    assert.equal(metadata.headers['odata-version'], '4.0');
    assert.ok(metadataCsdl.entityContainer, 'an EntityContainer in DataServices/Schema');
    assert.ok(metadataCsdl.referencesFirst, 'every edmx:Reference before edmx:DataServices');

    const odata = await stack.request('/redfish/v1/odata');
    assert.equal(odata.status, 200, odata.text);
    assert.match(String(odata.headers['content-type']), /^application\/json/);
    assert.equal(odata.json['@odata.context'], '/redfish/v1/$metadata');
    assert.ok(Array.isArray(odata.json.value));
    const root = resources[0]!.body!;
    for (const entry of odata.json.value) {
      assert.equal(entry.kind, 'Singleton');
      if (entry.name !== 'Service') assert.equal(entry.url, (root[entry.name] as { '@odata.id': string })['@odata.id']);
    }
    assert.deepEqual(
      odata.json.value.map((e: { name: string }) => e.name),
      ['Service', ...['AccountService', 'Managers', 'SessionService', 'Systems']],
    );
  });

  it('$metadata references the schema of every namespace served, ours at a URI that serves it', async () => {
    const { references } = metadataCsdl;
    const included = new Set(references.flatMap((r) => r.namespaces));
    // error bodies embed Message objects: one error response joins the crawled resources
    const error = await req('/redfish/v1/Nowhere');
    const bodies = [...resources.map((r) => r.body), error.json];
    const types = new Set(bodies.flatMap((b) => valuesOf(b, '@odata.type')));
    assert.ok(types.has('#OpenBMCVirtualMedia.v1_0_0.VirtualMedia'), [...types].join(', '));
    for (const type of types) {
      const ns = namespaceOf(type);
      assert.ok(included.has(ns), `$metadata includes ${ns}`);
      assert.ok(included.has(ns.split('.')[0]!), `$metadata includes the unversioned ${ns.split('.')[0]}`);
    }
    // the DMTF's schemas by their published URIs; the one OEM schema served here defines what it includes
    const ours = references.filter((r) => !r.uri.startsWith('http://redfish.dmtf.org/schemas/v1/'));
    assert.deepEqual(
      ours.map((r) => r.uri),
      OEM_SCHEMAS,
    );
    for (const [i, csdl] of oemCsdls.entries()) assert.deepEqual(csdl.schemas, ours[i]!.namespaces);
    assert.equal((await stack.request('/redfish/v1/schema/Nothing_v1.xml')).status, 404);
  });

  it('answers a method a resource lacks with 405, an Allow header and a DMTF error body', async () => {
    let refused = 0;
    for (const { uri, body } of resources) {
      const allow = body ? String((await req(uri, { method: 'HEAD' })).headers.allow) : 'POST';
      for (const method of METHODS.filter((m) => !allow.split(', ').includes(m))) {
        const r = await req(uri, { method, ...(method === 'GET' || method === 'DELETE' ? {} : { body: {} }) });
        expectError(r, 405, 'OperationNotAllowed');
        assert.equal(r.headers.allow, allow, `${method} ${uri}`);
        refused++;
      }
    }
    // the ones that used to be 404: service root, collections, manager, system, SessionService, ActionInfo
    for (const [method, uri] of [
      ['POST', '/redfish/v1'],
      ['DELETE', '/redfish/v1/Managers'],
      ['PUT', '/redfish/v1/Managers/bmc'],
      ['DELETE', '/redfish/v1/Systems/system'],
      ['PATCH', '/redfish/v1/SessionService'],
      ['PATCH', SESSIONS],
      ['PUT', SESSIONS],
      ['DELETE', SESSIONS],
      ['POST', `${MANAGER_VM}/Slot_2/InsertMediaActionInfo`],
    ] as const) {
      expectError(await req(uri, { method, body: {} }), 405, 'OperationNotAllowed');
    }
    assert.ok(refused > resources.length, `${refused} refusals`);
  });

  it('sends Allow on every GET and HEAD, and Link rel=describedby to the versioned schema', async () => {
    for (const { uri, body } of resources) {
      if (!body) continue;
      const get = await req(uri);
      const head = await req(uri, { method: 'HEAD' });
      assert.match(String(get.headers.allow), /^GET, HEAD(, [A-Z]+)*$/, uri);
      assert.equal(head.headers.allow, get.headers.allow, uri);
      assert.equal(head.text, '', `HEAD ${uri} has no body`);
      const link = /^<([^>]+)>; rel=describedby$/.exec(String(get.headers.link));
      assert.ok(link, `Link of ${uri}: ${String(get.headers.link)}`);
      assert.equal(link[1]!.split('/').pop(), `${namespaceOf(String(body['@odata.type']))}.json`, uri);
      assert.equal(head.headers.link, get.headers.link, uri);
    }
    assert.equal((await stack.request('/redfish/v1')).headers.allow, 'GET, HEAD');
    assert.equal((await stack.request('/redfish/v1/$metadata')).headers.allow, 'GET, HEAD');
  });

  it('refuses an OData-Version other than 4.0 with 412 and a DMTF error body', async () => {
    for (const uri of ['/redfish/v1', SESSIONS]) {
      assert.equal((await req(uri, { headers: { 'OData-Version': '4.0' } })).status, 200);
      for (const version of ['4.1', '3.0', 'x']) {
        expectError(await req(uri, { headers: { 'OData-Version': version } }), 412, 'PreconditionFailed');
      }
    }
  });

  it('creates a session by a POST to Sessions/Members as by one to Sessions', async () => {
    const r = await stack.request(`${SESSIONS}/Members`, {
      method: 'POST',
      body: { UserName: stack.operator.user, Password: stack.operator.password },
    });
    assert.equal(r.status, 201, r.text);
    const token = String(r.headers['x-auth-token']);
    assert.equal(r.headers.location, r.json['@odata.id']);
    assert.match(r.json['@odata.id'], new RegExp(`^${SESSIONS}/[^/]+$`));
    assert.equal(r.json.UserName, stack.operator.user);
    const own = await stack.request(r.json['@odata.id'], { headers: { 'X-Auth-Token': token } });
    assert.equal(own.status, 200);
    const gone = await stack.request(r.json['@odata.id'], { method: 'DELETE', headers: { 'X-Auth-Token': token } });
    assert.equal(gone.status, 204);
    const refused = await stack.request(`${SESSIONS}/Members`, {
      method: 'POST',
      body: { UserName: stack.operator.user, Password: 'wrong' },
    });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.location, undefined);
  });

  it('lists the users as Accounts and the three roles, read-only', async () => {
    const service = resources.find((r) => r.uri === '/redfish/v1/AccountService')?.body;
    assert.ok(service, 'the service root links AccountService');
    const accounts = (await req('/redfish/v1/AccountService/Accounts')).json;
    const names = [stack.admin.user, stack.operator.user, stack.readOnly.user].sort();
    assert.deepEqual(
      accounts.Members.map((m: { '@odata.id': string }) => m['@odata.id']),
      names.map((n) => `/redfish/v1/AccountService/Accounts/${n}`),
    );
    assert.equal(accounts['Members@odata.count'], 3);
    const mine = await stack.request('/redfish/v1/AccountService/Accounts', { auth: stack.operator });
    assert.deepEqual(mine.json.Members, [
      { '@odata.id': `/redfish/v1/AccountService/Accounts/${stack.operator.user}` },
    ]);
    const other = `/redfish/v1/AccountService/Accounts/${stack.admin.user}`;
    expectError(await stack.request(other, { auth: stack.operator }), 404, 'ResourceNotFound');

    const operator = await req(`/redfish/v1/AccountService/Accounts/${stack.operator.user}`);
    assert.equal(operator.status, 200);
    assert.ok(operator.headers.etag, 'ETag on a ManagerAccount');
    assert.equal(operator.json.UserName, stack.operator.user);
    assert.equal(operator.json.RoleId, 'Operator');
    assert.equal(operator.json.Password, null);
    assert.deepEqual(operator.json.Links.Role, { '@odata.id': '/redfish/v1/AccountService/Roles/Operator' });

    const roles = (await req('/redfish/v1/AccountService/Roles')).json;
    assert.equal(roles['Members@odata.count'], 3);
    const privileges: Record<string, string[]> = {};
    for (const { '@odata.id': id } of roles.Members) {
      const role = (await req(id)).json;
      assert.equal(role.IsPredefined, true);
      privileges[role.RoleId] = role.AssignedPrivileges;
    }
    assert.deepEqual(privileges, {
      Administrator: ['Login', 'ConfigureManager', 'ConfigureUsers', 'ConfigureSelf', 'ConfigureComponents'],
      Operator: ['Login', 'ConfigureSelf', 'ConfigureComponents'],
      ReadOnly: ['Login', 'ConfigureSelf'],
    });

    for (const [method, uri] of [
      ['POST', '/redfish/v1/AccountService/Accounts'],
      ['PATCH', `/redfish/v1/AccountService/Accounts/${stack.operator.user}`],
      ['DELETE', `/redfish/v1/AccountService/Accounts/${stack.operator.user}`],
      ['PATCH', '/redfish/v1/AccountService'],
    ] as const) {
      const r = await req(uri, { method, body: { UserName: 'x', Password: 'y', RoleId: 'ReadOnly' } });
      expectError(r, 405, 'OperationNotAllowed');
      assert.match(String(r.headers.allow), /^GET, HEAD$/);
    }
  });

  it('honours If-Match on PATCH: the current ETag (or *) goes ahead, a stale one is 412', async () => {
    for (const collection of [MANAGER_VM, SYSTEM_VM]) {
      const uri = `${collection}/Slot_2`;
      const got = await req(uri);
      const etag = String(got.headers.etag);
      assert.match(etag, /^"[^"]+"$/);
      const patch = (ifMatch: string) =>
        req(uri, { method: 'PATCH', headers: { 'If-Match': ifMatch }, body: { VerifyCertificate: true } });
      assert.equal((await patch(etag)).status, 204);
      assert.equal((await patch('*')).status, 204);
      assert.equal((await patch(`"stale", ${etag}`)).status, 204);
      expectError(await patch('"stale"'), 412, 'PreconditionFailed');
      assert.equal((await req(uri)).headers.etag, etag, 'a GET of an unchanged resource: the same ETag');
    }
    const manager = String((await req(`${MANAGER_VM}/Slot_2`)).headers.etag);
    const system = await req(`${SYSTEM_VM}/Slot_2`, {
      method: 'PATCH',
      headers: { 'If-Match': manager },
      body: { VerifyCertificate: true },
    });
    expectError(system, 412, 'PreconditionFailed'); // another URI, another representation
  });

  it('ActionInfo has only ActionInfo properties; Certificate.SerialNumber is colon-separated hex', async () => {
    const parameterProperties = new Set([
      'Name',
      'Required',
      'DataType',
      'ObjectDataType',
      'AllowableValues',
      'AllowableNumbers',
      'AllowablePattern',
      'AllowableValueDescriptions',
      'MinimumValue',
      'MaximumValue',
      'ArraySizeMaximum',
      'ArraySizeMinimum',
    ]);
    const infos = resources.filter((r) => r.body?.['@odata.type'] === '#ActionInfo.v1_4_0.ActionInfo');
    assert.ok(infos.length >= 4, 'InsertMediaActionInfo of both Legacy slots, at both places');
    for (const { uri, body } of infos) {
      for (const p of body!.Parameters as Record<string, unknown>[]) {
        for (const key of Object.keys(p)) assert.ok(parameterProperties.has(key), `${uri}: ${String(p.Name)}.${key}`);
      }
    }
    const store = (await req('/redfish/v1/Managers/bmc/Truststore/Certificates')).json;
    assert.equal(store['Members@odata.count'], 1);
    assert.equal((await req(store.Members[0]['@odata.id'])).json.SerialNumber, '0A:BC:12');
  });

  it('names the OEM object #OpenBMCVirtualMedia.v1_0_0.VirtualMedia, as bmcweb does since 2024', async () => {
    for (const collection of [MANAGER_VM, SYSTEM_VM]) {
      const oem = (await req(`${collection}/Slot_0`)).json.Oem.OpenBMC;
      assert.deepEqual(oem, {
        '@odata.id': `${collection}/Slot_0#/Oem/OpenBMC`,
        '@odata.type': '#OpenBMCVirtualMedia.v1_0_0.VirtualMedia',
        WebSocketEndpoint: '/nbd/0',
      });
    }
  });

  it('serves the members under Systems/system/VirtualMedia with their actions, and still under the manager', async () => {
    const members = (await req(SYSTEM_VM)).json.Members.map((m: { '@odata.id': string }) => m['@odata.id']);
    assert.deepEqual(
      [...members].sort(),
      ['Slot_0', 'Slot_1', 'Slot_2', 'Slot_3'].map((s) => `${SYSTEM_VM}/${s}`),
    );
    const legacy = (await req(`${SYSTEM_VM}/Slot_2`)).json;
    assert.equal(legacy['@odata.id'], `${SYSTEM_VM}/Slot_2`);
    const insert = legacy.Actions['#VirtualMedia.InsertMedia'];
    assert.equal(insert.target, `${SYSTEM_VM}/Slot_2/Actions/VirtualMedia.InsertMedia`);
    assert.equal(insert['@Redfish.ActionInfo'], `${SYSTEM_VM}/Slot_2/InsertMediaActionInfo`);
    assert.equal((await req(insert['@Redfish.ActionInfo'])).json['@odata.id'], insert['@Redfish.ActionInfo']);
    assert.equal((await req(legacy.Certificates['@odata.id'])).status, 200);
    expectError(await req(insert.target, { method: 'POST', body: {} }), 400, 'PropertyMissing');
    const eject = legacy.Actions['#VirtualMedia.EjectMedia'].target;
    assert.equal(eject, `${SYSTEM_VM}/Slot_2/Actions/VirtualMedia.EjectMedia`);
    assert.equal((await req(eject, { method: 'POST' })).status, 204); // an empty slot: nothing to do
    const manager = (await req(`${MANAGER_VM}/Slot_2`)).json;
    assert.equal(
      manager.Actions['#VirtualMedia.InsertMedia'].target,
      `${MANAGER_VM}/Slot_2/Actions/VirtualMedia.InsertMedia`,
    );
  });
});
