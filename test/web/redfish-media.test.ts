// Redfish VirtualMedia against the real daemon: InsertMedia's validation (every case with its
// status and DMTF MessageId), inserting an HTTPS image with credentials through the FIFO fd,
// errors from the daemon's Completion, EjectMedia, the Truststore, and that no password ever
// shows up in a response or a log line.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startImageServer, type ImageServer } from '../sources/helpers/image-server.js';
import { createTestCa, type TestCa } from '../sources/helpers/test-ca.js';
import { startStack, type HttpResponse, type RequestOptions, type Stack } from '../helpers/stack.js';

const run = promisify(execFile);
const VM = '/redfish/v1/Managers/bmc/VirtualMedia';
const INSERT = `${VM}/Slot_2/Actions/VirtualMedia.InsertMedia`;
const EJECT = `${VM}/Slot_2/Actions/VirtualMedia.EjectMedia`;
const IMAGE_USER = 'imguser';
const IMAGE_PASSWORD = 'S3cret-image-pa55word';
/** A presigned URL's token: never in a log line. */
const URL_TOKEN = 'X-Amz-Signature=5ecret70ken';

/** `count` distinct self-signed CA certificates (one key, different subjects). */
function caCertificates(dir: string, count: number): string[] {
  mkdirSync(dir, { recursive: true });
  const key = path.join(dir, 'ca.key');
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
  return Array.from({ length: count }, (_, i) =>
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-key',
        key,
        '-days',
        '2',
        '-subj',
        `/CN=CA ${i}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
      ],
      { encoding: 'utf8' },
    ),
  );
}

describe('Redfish VirtualMedia InsertMedia / EjectMedia', { timeout: 180_000 }, () => {
  let stack: Stack;
  let dir: string;
  let ca: TestCa;
  let server: ImageServer;
  /** Every response body seen, to check no password leaks. */
  const seen: string[] = [];

  const req = async (p: string, opts: RequestOptions = {}): Promise<HttpResponse> => {
    const r = await stack.request(p, { auth: stack.admin, ...opts });
    seen.push(r.text, JSON.stringify(r.headers));
    return r;
  };
  const insert = (body: unknown, opts: RequestOptions = {}) => req(INSERT, { method: 'POST', body, ...opts });
  const expectError = (r: HttpResponse, status: number, messageId: string) => {
    assert.equal(r.status, status, r.text);
    assert.equal(r.json.error.code, `Base.1.19.0.${messageId}`, r.text);
    assert.equal(r.json.error['@Message.ExtendedInfo'][0].MessageId, `Base.1.19.0.${messageId}`);
  };
  const member = async (slot = 'Slot_2') => (await req(`${VM}/${slot}`)).json;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vmedia-redfish-'));
    ca = createTestCa(dir);
    const image = path.join(dir, 'boot.iso');
    writeFileSync(image, Buffer.alloc(4 * 1024 * 1024, 0x5a));
    server = await startImageServer({
      files: new Map([['/images/boot.iso', image]]),
      tls: { key: ca.serverKey, cert: ca.serverCert },
      host: '127.0.0.1',
      switches: { auth: { user: IMAGE_USER, password: IMAGE_PASSWORD } },
    });
    stack = await startStack({ slotTimeout: 10 });
  });
  after(async () => {
    await stack?.stop();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("advertises exactly the daemon's Sources.Schemes as TransferProtocolType values", async () => {
    const { stdout } = await run('busctl', [
      '--address',
      stack.busAddress,
      'get-property',
      'xyz.openbmc_project.VirtualMedia',
      '/xyz/openbmc_project/VirtualMedia/Legacy/Slot_2',
      'xyz.openbmc_project.VirtualMedia.Sources',
      'Schemes',
    ]);
    const schemes = [...stdout.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
    const dmtfOf: Record<string, string> = {
      https: 'HTTPS',
      http: 'HTTP',
      ftp: 'FTP',
      sftp: 'SFTP',
      smb: 'CIFS',
      nfs: 'NFS',
    };
    // here: FTP, SFTP, HTTP, HTTPS (CIFS and NFS need kernel mounts this machine cannot do)
    assert.ok(
      schemes.includes('ftp') && schemes.includes('sftp') && schemes.includes('https'),
      `Schemes: ${schemes.join(', ')}`,
    );
    const expected = ['CIFS', 'FTP', 'SFTP', 'HTTP', 'HTTPS', 'NFS'].filter((p) =>
      schemes.some((s) => s !== undefined && dmtfOf[s] === p),
    );
    const m = await member();
    assert.deepEqual(m.Actions['#VirtualMedia.InsertMedia']['TransferProtocolType@Redfish.AllowableValues'], expected);
    const info = (await req(`${VM}/Slot_2/InsertMediaActionInfo`)).json;
    assert.deepEqual(
      info.Parameters.find((p: { Name: string }) => p.Name === 'TransferProtocolType').AllowableValues,
      expected,
    );
    const managerMembers = (await req(VM)).json.Members;
    assert.deepEqual(
      managerMembers.map((m: { '@odata.id': string }) => m['@odata.id'].split('/').pop()),
      ['Slot_2', 'Slot_3', 'Slot_0', 'Slot_1'],
      'Legacy slots first (Ironic inserts into the first fitting member)',
    );
    // the same members, served under the system too (DMTF's current place for them)
    assert.deepEqual(
      (await req('/redfish/v1/Systems/system/VirtualMedia')).json.Members,
      managerMembers.map((m: { '@odata.id': string }) => ({
        '@odata.id': m['@odata.id'].replace('/Managers/bmc/', '/Systems/system/'),
      })),
    );
    expectError(await req(INSERT), 405, 'OperationNotAllowed');
    const proxy = await member('Slot_0');
    assert.equal(proxy.Actions['#VirtualMedia.InsertMedia'], undefined);
    assert.equal(proxy.Oem.OpenBMC.WebSocketEndpoint, '/nbd/0');
  });

  it('refuses bad InsertMedia requests with the right status and MessageId', async () => {
    const url = `${server.origin}/images/boot.iso`;
    const cases: [string, unknown, number, string][] = [
      ['no Image', {}, 400, 'PropertyMissing'],
      ['empty Image', { Image: '' }, 400, 'PropertyValueFormatError'],
      ['Image not a string', { Image: 42 }, 400, 'PropertyValueTypeError'],
      ['Inserted not a boolean', { Image: url, Inserted: 'yes' }, 400, 'PropertyValueTypeError'],
      ['Inserted=false', { Image: url, Inserted: false }, 400, 'ActionParameterNotSupported'],
      ['TransferMethod Upload', { Image: url, TransferMethod: 'Upload' }, 400, 'ActionParameterNotSupported'],
      ['TransferMethod unknown', { Image: url, TransferMethod: 'Carrier pigeon' }, 400, 'PropertyValueNotInList'],
      ['TransferProtocolType not served', { Image: url, TransferProtocolType: 'TFTP' }, 400, 'PropertyValueNotInList'],
      ['TransferProtocolType unknown', { Image: url, TransferProtocolType: 'GOPHER' }, 400, 'PropertyValueNotInList'],
      ['scheme not served', { Image: 'tftp://127.0.0.1/x.iso' }, 400, 'ResourceAtUriInUnknownFormat'],
      ['scheme and type disagree', { Image: url, TransferProtocolType: 'HTTP' }, 400, 'PropertyValueConflict'],
      ['no scheme, no type', { Image: '127.0.0.1/images/boot.iso' }, 400, 'ActionParameterMissing'],
      ['unknown parameter', { Image: url, Colour: 'blue' }, 400, 'ActionParameterUnknown'],
      ['UserName too long', { Image: url, UserName: 'u'.repeat(513), Password: 'p' }, 400, 'PropertyValueError'],
      ['Password with NUL', { Image: url, UserName: 'u', Password: `${IMAGE_PASSWORD}\0x` }, 400, 'PropertyValueError'],
      ['credentials in the URL', { Image: `https://u:${IMAGE_PASSWORD}@127.0.0.1/x.iso` }, 400, 'PropertyValueError'],
      ['Image with NUL', { Image: `${url}\0.iso` }, 400, 'PropertyValueFormatError'],
      ['Image with a control character', { Image: `${url}\x1b[2J` }, 400, 'PropertyValueFormatError'],
      [
        'credentials over HTTP',
        { Image: 'http://127.0.0.1/x.iso', UserName: 'u', Password: 'p' },
        400,
        'PropertyValueConflict',
      ],
      ['a password over FTP', { Image: 'ftp://127.0.0.1/x.iso', Password: 'p' }, 400, 'PropertyValueConflict'],
      ['body not JSON', '{"Image": ', 400, 'MalformedJSON'],
      ['body an array', '[]', 400, 'MalformedJSON'],
      ['body too large', { Image: url, Pad: 'x'.repeat(100_000) }, 413, 'PayloadTooLarge'],
    ];
    for (const [name, body, status, id] of cases) {
      await it(name, async () => expectError(await insert(body), status, id));
    }
    const related = (await insert({ Image: url, Inserted: 'yes' })).json.error['@Message.ExtendedInfo'][0];
    assert.deepEqual(related.RelatedProperties, ['#/Inserted']);
    assert.deepEqual(related.MessageArgs, ['yes', 'Inserted']);
    const nul = (await insert({ Image: `${url}\0.iso` })).json.error['@Message.ExtendedInfo'][0];
    assert.deepEqual(nul.RelatedProperties, ['#/Image']);
    assert.equal(nul.MessageArgs[1], 'Image');
    const plain = (await insert({ Image: 'http://127.0.0.1/x.iso', UserName: 'u', Password: 'p' })).json.error;
    assert.deepEqual(plain['@Message.ExtendedInfo'][0].MessageArgs, ['UserName', 'Image']);
    assert.deepEqual(plain['@Message.ExtendedInfo'][0].RelatedProperties, ['#/UserName', '#/Password', '#/Image']);
    assert.match(plain['@Message.ExtendedInfo'][0].Resolution, /unencrypted/);
    expectError(
      await req(`${VM}/Slot_0/Actions/VirtualMedia.InsertMedia`, { method: 'POST', body: { Image: url } }),
      405,
      'ActionNotSupported',
    );
    expectError(
      await req(`${VM}/Slot_9/Actions/VirtualMedia.InsertMedia`, { method: 'POST', body: { Image: url } }),
      404,
      'ResourceNotFound',
    );
    expectError(await req(`${VM}/Slot_2/Certificates/%ZZ`), 400, 'InvalidURI'); // Express's own page has a stack trace
    assert.equal((await member()).Inserted, false);
  });

  it('reports what the daemon could not do: unreachable server, untrusted certificate', async () => {
    const refused = await insert({ Image: `https://127.0.0.1:1/images/boot.iso?${URL_TOKEN}` });
    expectError(refused, 400, 'CouldNotEstablishConnection');
    assert.match(refused.json.error['@Message.ExtendedInfo'][0].Resolution, /ECONNREFUSED/);
    // the audit line names the image without its query string (the final test checks the token)
    const audited = async () => {
      for (let i = 0; i < 50 && !stack.webOutput().includes('InsertMedia failed'); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      return stack.webOutput();
    };
    assert.match(await audited(), /"url":"https:\/\/127\.0\.0\.1:1\/images\/boot\.iso"/);

    const untrusted = await insert({
      Image: `${server.origin}/images/boot.iso`,
      UserName: IMAGE_USER,
      Password: IMAGE_PASSWORD,
    });
    expectError(untrusted, 400, 'ResourceAtUriUnauthorized');
    assert.match(untrusted.json.error['@Message.ExtendedInfo'][0].Resolution, /EKEYREJECTED/);
    const m = await member();
    assert.equal(m.Inserted, false);
    assert.equal(m.Image, null);
  });

  it('manages the Truststore: add, list, refuse junk and duplicates, per-slot collection, delete', async () => {
    const store = '/redfish/v1/Managers/bmc/Truststore/Certificates';
    expectError(
      await req(store, { method: 'POST', body: { CertificateString: 'not a pem' } }),
      400,
      'PropertyValueFormatError',
    );
    expectError(
      await req(store, { method: 'POST', body: { CertificateString: `${ca.caPem}\n${ca.serverKey}` } }),
      400,
      'PropertyValueFormatError',
    );
    expectError(await req(store, { method: 'POST', body: {} }), 400, 'PropertyMissing');
    expectError(
      await req(store, { method: 'POST', body: { CertificateString: ca.caPem }, auth: stack.operator }),
      403,
      'InsufficientPrivilege',
    );
    const added = await req(store, { method: 'POST', body: { CertificateString: ca.caPem, CertificateType: 'PEM' } });
    assert.equal(added.status, 201, added.text);
    assert.equal(added.headers.location, `${store}/1`);
    assert.equal(added.json.Subject.CommonName, 'vmedia test CA');
    expectError(
      await req(store, { method: 'POST', body: { CertificateString: ca.caPem } }),
      409,
      'ResourceAlreadyExists',
    );
    const list = (await req(store)).json;
    assert.deepEqual(list.Members, [{ '@odata.id': `${store}/1` }]);
    assert.equal((await req(`${store}/1`)).json.CertificateString.trim(), ca.caPem.trim());

    const slotCerts = `${VM}/Slot_2/Certificates`;
    const other = createTestCa(path.join(dir, 'other'), 'other CA');
    const slotAdded = await req(slotCerts, { method: 'POST', body: { CertificateString: other.caPem } });
    assert.equal(slotAdded.status, 201, slotAdded.text);
    assert.deepEqual((await req(slotCerts)).json.Members, [{ '@odata.id': `${slotCerts}/1` }]);
    assert.equal((await req(`${slotCerts}/1`, { method: 'DELETE' })).status, 204);
    expectError(await req(`${slotCerts}/1`), 404, 'ResourceNotFound');
    assert.deepEqual((await req(store)).json.Members, [{ '@odata.id': `${store}/1` }]);
  });

  it('Truststore: takes only CA certificates, and at most 32 per collection', async () => {
    const slotCerts = `${VM}/Slot_3/Certificates`;
    const leaf = await req(slotCerts, { method: 'POST', body: { CertificateString: ca.serverCert } });
    expectError(leaf, 400, 'PropertyValueFormatError');
    assert.match(leaf.json.error['@Message.ExtendedInfo'][0].Resolution, /not a CA certificate/);

    // a session token: 33 Basic logins would cost a scrypt each
    const login = await stack.request('/redfish/v1/SessionService/Sessions', {
      method: 'POST',
      body: { UserName: stack.admin.user, Password: stack.admin.password },
    });
    const token = { 'X-Auth-Token': login.headers['x-auth-token'] as string };
    const post = (pem: string) => req(slotCerts, { method: 'POST', body: { CertificateString: pem }, headers: token });
    const pems = caCertificates(path.join(dir, 'many'), 33);
    for (const pem of pems.slice(0, 32)) assert.equal((await post(pem)).status, 201);
    const over = await post(pems[32]!);
    expectError(over, 400, 'CreateLimitReachedForResource');
    assert.match(over.json.error['@Message.ExtendedInfo'][0].Resolution, /32/);
    for (const member of (await req(slotCerts, { headers: token })).json.Members) {
      assert.equal((await req(member['@odata.id'], { method: 'DELETE', headers: token })).status, 204);
    }
  });

  it('inserts an HTTPS image with credentials, refuses a double insert, ejects; every GET consistent', async () => {
    // Image without a scheme: filled in from TransferProtocolType
    const bare = `${server.origin.replace(/^https:\/\//, '')}/images/boot.iso`;
    const ok = await insert({
      Image: bare,
      TransferProtocolType: 'HTTPS',
      UserName: IMAGE_USER,
      Password: IMAGE_PASSWORD,
    });
    assert.equal(ok.status, 204, ok.text);
    const m = await member();
    assert.equal(m.Inserted, true);
    assert.equal(m.Image, `${server.origin}/images/boot.iso`);
    assert.equal(m.ImageName, 'boot.iso');
    assert.equal(m.ConnectedVia, 'URI');
    assert.equal(m.TransferProtocolType, 'HTTPS');
    assert.ok(
      server.requests.some(
        (r) => r.authorization === `Basic ${Buffer.from(`${IMAGE_USER}:${IMAGE_PASSWORD}`).toString('base64')}`,
      ),
      'the image server saw the credentials (they went through the pipe fd)',
    );
    const { stdout } = await run('nbdinfo', ['--size', `nbd+unix:///?socket=${stack.slots[2]!.exportSocket}`]);
    assert.equal(Number(stdout.trim()), 4 * 1024 * 1024);

    expectError(await insert({ Image: `${server.origin}/images/boot.iso` }), 409, 'ResourceInUse');
    expectError(
      await insert({ Image: `${server.origin}/images/boot.iso` }, { auth: stack.readOnly }),
      403,
      'InsufficientPrivilege',
    );

    assert.equal((await req(EJECT, { method: 'POST', auth: stack.operator })).status, 204);
    const after = await member();
    assert.equal(after.Inserted, false);
    assert.equal(after.Image, null);
    assert.equal(after.ConnectedVia, 'NotConnected');
    assert.equal((await req(EJECT, { method: 'POST', body: {} })).status, 204, 'ejecting an empty slot is a no-op');
    expectError(await req(EJECT, { method: 'POST', body: { Force: true } }), 400, 'ActionParameterUnknown');
  });

  it('PATCH: VerifyCertificate can only stay true; media properties are read-only', async () => {
    assert.equal((await req(`${VM}/Slot_2`, { method: 'PATCH', body: { VerifyCertificate: true } })).status, 204);
    expectError(
      await req(`${VM}/Slot_2`, { method: 'PATCH', body: { VerifyCertificate: false } }),
      400,
      'PropertyValueNotInList',
    );
    expectError(
      await req(`${VM}/Slot_2`, { method: 'PATCH', body: { Image: 'https://x/y.iso' } }),
      400,
      'PropertyNotWritable',
    );
    expectError(await req(`${VM}/Slot_2`, { method: 'PATCH', body: { Bogus: 1 } }), 400, 'PropertyUnknown');
  });

  it('never shows a password in a response or a log line, nor a URL token in a log line, nor a stack trace', () => {
    for (const secret of [IMAGE_PASSWORD, stack.admin.password, stack.operator.password]) {
      assert.ok(!seen.some((t) => t.includes(secret)), 'a response contains a password');
    }
    for (const secret of [IMAGE_PASSWORD, stack.admin.password, stack.operator.password, URL_TOKEN]) {
      assert.ok(!stack.webOutput().includes(secret), `the web log contains ${secret}`);
      assert.ok(!stack.daemon.output().includes(secret), `the daemon log contains ${secret}`);
    }
    assert.ok(!seen.some((t) => /\n\s+at /.test(t) || t.includes('.js:')), 'a response contains a stack trace');
  });
});
