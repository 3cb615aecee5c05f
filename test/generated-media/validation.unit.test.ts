// Bad input documents: each is refused with a GeneratedMediaError naming the property (a JSON
// pointer), the way the daemon and Redfish report it; nothing is built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildGeneratedMedia,
  GeneratedMediaError,
  MAX_GENERATED_MEDIA_INPUT_BYTES,
  type GeneratedMediaTarget,
} from '../../src/generated-media/index.js';
import { checkedFileSet, layoutFile } from '../../src/generated-media/files.js';
import { NONCE } from './inputs.js';

const meta = { uuid: 'i-0001' };
const nocloud = (extra: object) => ({ format: 'nocloud', meta_data: meta, ...extra });
const withFiles = (...files: object[]) => nocloud({ files });

/** [what, input, path the error names, target] */
const CASES: [string, unknown, string, GeneratedMediaTarget?][] = [
  ['not an object', 42, ''],
  ['null', null, ''],
  ['an array', [], ''],
  ['no format', { meta_data: meta }, '/format'],
  ['an unknown format', { format: 'vhd', meta_data: meta }, '/format'],
  ['an unknown property', nocloud({ userdata: 'x' }), '/userdata'],
  ['config-2 without meta_data', { format: 'config-2' }, '/meta_data'],
  ['meta_data without uuid', { format: 'config-2', meta_data: { hostname: 'a' } }, '/meta_data/uuid'],
  ['a bad hostname', nocloud({ meta_data: { ...meta, hostname: 'bad host!' } }), '/meta_data/hostname'],
  [
    'a hostname label of 64 characters',
    nocloud({ meta_data: { ...meta, hostname: 'a'.repeat(64) } }),
    '/meta_data/hostname',
  ],
  [
    'a key that is not a string',
    nocloud({ meta_data: { ...meta, public_keys: { k: 1 } } }),
    '/meta_data/public_keys/k',
  ],
  ['a key of two lines', nocloud({ meta_data: { ...meta, public_keys: { k: 'a\nb' } } }), '/meta_data/public_keys/k'],
  ['user_data neither text nor object', nocloud({ user_data: ['x'] }), '/user_data'],
  ['nocloud network_data without version', nocloud({ network_data: { ethernets: {} } }), '/network_data/version'],
  [
    'config-2 network_data links not a list',
    { format: 'config-2', meta_data: meta, network_data: { links: {} } },
    '/network_data/links',
  ],
  ['config-2 vendor_data text', { format: 'config-2', meta_data: meta, vendor_data: 'x' }, '/vendor_data'],
  [
    'the nonce in meta',
    { format: 'config-2', meta_data: { ...meta, meta: { vmedia_nonce: 'x' } } },
    '/meta_data/meta/vmedia_nonce',
  ],
  ['meta not an object', { format: 'config-2', meta_data: { ...meta, meta: 'x' } }, '/meta_data/meta'],
  ['instance-id beside uuid', nocloud({ meta_data: { ...meta, 'instance-id': 'x' } }), '/meta_data/instance-id'],
  [
    'the nonce in NoCloud meta-data',
    nocloud({ meta_data: { ...meta, 'vmedia-nonce': 'x' } }),
    '/meta_data/vmedia-nonce',
  ],
  ['floppy with meta_data', { format: 'floppy', meta_data: meta }, '/meta_data'],
  ['floppy parameter with a blank', { format: 'floppy', parameters: { a: 'b c' } }, '/parameters/a'],
  ['floppy parameter name with =', { format: 'floppy', parameters: { 'a=b': 'c' } }, '/parameters'],
  ['parameters on config-2', { format: 'config-2', meta_data: meta, parameters: {} }, '/parameters'],
  ['floppy on a CD', { format: 'floppy' }, '/format', 'cd'],
  ['a path escaping the root', withFiles({ path: '../etc/passwd', content: '' }), '/files/0/path'],
  ['a path in the middle escaping', withFiles({ path: 'a/../../b', content: '' }), '/files/0/path'],
  ['an absolute path', withFiles({ path: '/etc/passwd', content: '' }), '/files/0/path'],
  ['an empty component', withFiles({ path: 'a//b', content: '' }), '/files/0/path'],
  ['a "." component', withFiles({ path: 'a/./b', content: '' }), '/files/0/path'],
  ['a name ending with a dot', withFiles({ path: 'a/b.', content: '' }), '/files/0/path'],
  ['a backslash', withFiles({ path: 'a\\b', content: '' }), '/files/0/path'],
  ['a name of 63 characters', withFiles({ path: 'a'.repeat(63), content: '' }), '/files/0/path'],
  ['nine levels', withFiles({ path: 'a/b/c/d/e/f/g/h/i', content: '' }), '/files/0/path'],
  ['content not a string', withFiles({ path: 'a', content: 5 }), '/files/0/content'],
  ['no content', withFiles({ path: 'a' }), '/files/0'],
  ['deep nesting', nocloud({ user_data: nested(40) }), `/user_data${'/a'.repeat(32)}`],
  ['both contents', withFiles({ path: 'a', content: '', content_base64: '' }), '/files/0'],
  ['bad base64', withFiles({ path: 'a', content_base64: 'abc' }), '/files/0/content_base64'],
  ['base64 without padding', withFiles({ path: 'a', content_base64: 'QUI' }), '/files/0/content_base64'],
  ['base64 with = inside', withFiles({ path: 'a', content_base64: 'QQ==QUI=' }), '/files/0/content_base64'],
  ['base64url', withFiles({ path: 'a', content_base64: '-_-_' }), '/files/0/content_base64'],
  ['a duplicate path', withFiles({ path: 'a/b', content: '' }, { path: 'a/b', content: '' }), '/files/1/path'],
  [
    'paths differing in case',
    withFiles({ path: 'a.txt', content: '' }, { path: 'A.TXT', content: '' }),
    '/files/1/path',
  ],
  ['a file where a directory is', withFiles({ path: 'a', content: '' }, { path: 'a/b', content: '' }), '/files/1/path'],
  ['a directory where a file is', withFiles({ path: 'a/b', content: '' }, { path: 'a', content: '' }), '/files/1/path'],
  ['a layout file', withFiles({ path: 'meta-data', content: '' }), '/files/0/path'],
  ['the nonce file', withFiles({ path: 'vmedia-nonce', content: '' }), '/files/0/path'],
  ['an eject TTL of 0', nocloud({ eject_after: 0 }), '/eject_after'],
  ['oversize', nocloud({ user_data: 'x'.repeat(MAX_GENERATED_MEDIA_INPUT_BYTES) }), ''],
  [
    'a floppy that does not fit',
    { format: 'floppy', files: [{ path: 'big', content: 'x'.repeat(1474560) }] },
    '/files',
  ],
];

function nested(depth: number): object {
  let value: object = {};
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

for (const [what, input, path, target] of CASES)
  test(`refused: ${what} → ${path || '(the document)'}`, () => {
    assert.throws(
      () => buildGeneratedMedia(input, { nonce: NONCE, target: target ?? 'usb' }),
      (err: unknown) => {
        assert.ok(err instanceof GeneratedMediaError, String(err));
        assert.equal(err.path, path, err.message);
        assert.ok(err.message.length > path.length + 5, err.message);
        return true;
      },
    );
  });

test('files that together pass the limit are refused (formatting can make files larger than their input)', () => {
  const half = Buffer.alloc(MAX_GENERATED_MEDIA_INPUT_BYTES / 2 + 1);
  assert.throws(
    () => checkedFileSet([layoutFile('user-data', half), layoutFile('network-config', half)]),
    (err: unknown) => err instanceof GeneratedMediaError && err.path === '' && /more than/.test(err.message),
  );
});

test('base64 wrapped in lines, as base64(1) writes it, is read', () => {
  const bytes = Buffer.from(Array.from({ length: 200 }, (_, i) => i));
  const wrapped = bytes.toString('base64').replace(/.{76}/g, '$&\n');
  const media = buildGeneratedMedia(withFiles({ path: 'blob', content_base64: wrapped }), {
    nonce: NONCE,
    target: 'usb',
  });
  assert.ok(media.image.includes(bytes));
});

test('error messages never quote the values (the document carries secrets)', () => {
  const secret = 'TOKEN-0f9e8d7c6b5a';
  const documents = [
    nocloud({ meta_data: { ...meta, public_keys: { k: `ssh-ed25519 ${secret}\nx` } } }),
    { format: 'floppy', parameters: { ipa_token: `${secret} x` } },
    nocloud({ meta_data: { ...meta, hostname: `${secret}!` } }),
    withFiles({ path: 'a', content_base64: `${secret}=` }),
    { format: secret },
  ];
  for (const document of documents)
    assert.throws(
      () => buildGeneratedMedia(document, { nonce: NONCE, target: 'usb' }),
      (err: unknown) => err instanceof GeneratedMediaError && !err.message.includes(secret),
    );
});

test('a nonce that is not hex is a programming error', () => {
  assert.throws(() => buildGeneratedMedia(nocloud({}), { nonce: 'not-hex', target: 'cd' }), TypeError);
});

test('the smallest documents build: meta_data alone, a floppy without parameters', () => {
  const media = buildGeneratedMedia(nocloud({}), { nonce: NONCE, target: 'cd' });
  assert.deepEqual(media.files, ['meta-data', 'user-data', 'vmedia-nonce']);
  const floppy = buildGeneratedMedia({ format: 'floppy' }, { nonce: NONCE, target: 'usb' });
  assert.deepEqual([floppy.fileSystem, floppy.label, floppy.image.length], ['fat12', 'ir-vfd-dev', 1474560]);
});

test('eject_after and eject_when_read are accepted and leave the image alone', () => {
  const plain = buildGeneratedMedia(nocloud({}), { nonce: NONCE, target: 'usb' });
  const asked = buildGeneratedMedia(nocloud({ eject_after: 600, eject_when_read: true }), {
    nonce: NONCE,
    target: 'usb',
  });
  assert.equal(asked.sha256, plain.sha256);
});
