// The cloud-config YAML writer against PyYAML, the parser cloud-init uses: random JSON objects
// written as #cloud-config read back equal (one python3 process for the whole batch).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cloudConfigText } from '../../src/generated-media/cloud-config.js';
import { python } from './tools.js';

const LOAD_ALL = `
import json, sys, yaml
texts = json.load(sys.stdin)
print(json.dumps([yaml.safe_load(t) for t in texts]))
`;

/** JSON text of a value, as it reads back: -0 is 0. */
const normalized = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;

/** Characters that mean something to YAML or PyYAML, and any other UTF-16 unit (lone surrogates
 *  included). */
const unit = fc.oneof(
  fc.constantFrom(' ', '\n', '\t', '\r', ':', '#', '-', '"', "'", '\\', '|', '>', '&', '*', '!', '%', '@', '`', '~'),
  fc.constantFrom('\u0085', '\u2028', '\ufeff', '\u007f', '\u0000', '\ud800', '\udc00', 'é', '😀'),
  fc.constantFrom('0', '1', '.', 'e', 'y', 'n', 'o', 'N'),
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
);

test('random objects written as #cloud-config read back equal with PyYAML', async () => {
  const objects = fc.sample(
    fc.dictionary(fc.string({ unit, maxLength: 12 }), fc.jsonValue({ maxDepth: 3, stringUnit: unit }), { minKeys: 1 }),
    { numRuns: 300, seed: 1616 },
  );
  const texts = objects.map((o) => cloudConfigText(o));
  for (const t of texts) assert.ok(t.startsWith('#cloud-config\n'));
  const loaded: unknown[] = await python(LOAD_ALL, texts);
  objects.forEach((o, i) => assert.deepEqual(loaded[i], normalized(o), `case ${i}:\n${texts[i]}`));
});

test('tricky scalars keep their type and text', async () => {
  const object = {
    on: 'off',
    yes: ['no', 'y', 'n', 'null', '~', 'true', '1e3', '0x1f', '010', '1:20', '2001-12-14', '.inf', '-.nan'],
    mac: '52:54:00:12:34:56',
    numbers: [0, -1, 1.5, 1e21, 5e-324, 12345678],
    literal: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    kept: ['a\n\n', 'a\n', 'a', ' leading\nx', 'trailing \nx', 'x\r\ny', '\nfirst empty', 'tab\tinside\nx'],
    escapes: ['\u0085', '\u2028', '\ufeff', '\u007f', '\u0000', 'é😀', '#not a comment', "'single'", '"double"'],
    nested: [{ a: [[], {}], b: null }, [[1, [2]]], { '': '', '<<': 'merge?', '- x': '? y' }],
  };
  const [loaded] = await python(LOAD_ALL, [cloudConfigText(object)]);
  assert.deepEqual(loaded, normalized(object));
});
