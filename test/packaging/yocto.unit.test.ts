// The Yocto layer (yocto/) without bitbake: every file parses as BitBake, the recipe's variables
// hold what the image needs (sources, licence checksum, runtime dependencies, units), its paths
// agree with the bundle and the daemon unit, and the kernel fragment names only Kconfig symbols
// this machine's kernel knows. do_install itself runs against a real bundle in bundle.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { CLI_ENTRY } from '../../scripts/bundle.js';
import { expand, parseBitbake, STANDARD_DIRS, valueOf, type BitbakeFile } from './bitbake.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const LAYER = path.join(ROOT, 'yocto');
const parse = (file: string) => parseBitbake(readFileSync(path.join(LAYER, file), 'utf8'), `yocto/${file}`);
const words = (value: string | undefined) => (value ?? '').split(/\s+/).filter(Boolean);

/** The recipe and what it requires, as bitbake reads them. */
function recipe(): BitbakeFile[] {
  const bb = parse('vmedia_git.bb');
  return [bb, ...bb.requires.map((r) => parse(r))];
}
const vars = { THISDIR: LAYER };

test('every file of the layer parses as BitBake', () => {
  const files = ['conf/layer.conf', ...readdirSync(LAYER).filter((f) => /\.(bb|inc|bbappend)$/.test(f))];
  assert.ok(files.includes('vmedia_git.bb') && files.includes('vmedia.inc'), files.join(', '));
  for (const file of files) parse(file);
  assert.deepEqual(recipe()[0]!.requires, ['vmedia.inc']);
  // the layer picks up the recipe and the kernel bbappend
  assert.match(valueOf([parse('conf/layer.conf')], 'BBFILES') ?? '', /\$\{LAYERDIR\}\/\*\.bb\b.*\*\.bbappend/);
});

test('sources: git, and npm packages from the lockfile itself; the licence checksum is right', () => {
  const files = recipe();
  const srcUri = words(expand(valueOf(files, 'SRC_URI')!, files, vars));
  assert.ok(
    srcUri.some((u) => u.startsWith('git://')),
    srcUri.join(' '),
  );
  const npmsw = srcUri.find((u) => u.startsWith('npmsw://'));
  assert.ok(npmsw, 'an npmsw:// entry');
  const shrinkwrap = npmsw.slice('npmsw://'.length).split(';')[0]!;
  // a link, so that it can never lag behind package-lock.json
  assert.equal(realpathSync(shrinkwrap), realpathSync(path.join(ROOT, 'package-lock.json')));
  assert.ok(valueOf(files, 'SRCREV'), 'SRCREV');
  const [licence, checksum] = words(valueOf(files, 'LIC_FILES_CHKSUM'))[0]!.replace('file://', '').split(';md5=');
  const md5 = createHash('md5')
    .update(readFileSync(path.join(ROOT, licence!)))
    .digest('hex');
  assert.equal(checksum, md5, `md5 of ${licence}`);
  assert.equal(valueOf(files, 'LICENSE'), JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).license);
});

test('compile: the fixes in patches/ are applied before the addons are built from their sources', () => {
  const compile = recipe()[0]!.functions.get('do_compile') ?? '';
  const lines = compile.split('\n').map((l) => l.trim());
  const patched = lines.findIndex((l) => /^node node_modules\/patch-package\/index\.js$/.test(l));
  const addons = lines.findIndex((l) => l.includes('node-gyp.js rebuild'));
  assert.ok(patched >= 0, 'do_compile runs patch-package (npm rebuild --ignore-scripts skips the postinstall)');
  assert.ok(addons > patched, 'the addons are compiled after the patches are applied');
});

test("runtime: nodejs, nbd-client, nbdkit; the units it enables exist; the install path is the units'", () => {
  const files = recipe();
  const rdepends = words(valueOf(files, 'RDEPENDS:${PN}'));
  for (const dep of ['nodejs', 'nbd-client', 'nbdkit']) assert.ok(rdepends.includes(dep), `RDEPENDS has ${dep}`);
  const services = words(valueOf(files, 'SYSTEMD_SERVICE:${PN}'));
  assert.deepEqual(services.sort(), ['vmedia-web.service', 'xyz.openbmc_project.VirtualMedia.service']);
  for (const unit of services) assert.ok(existsSync(path.join(ROOT, 'systemd', unit)), unit);
  assert.equal(valueOf(files, 'VMEDIA_CLI'), CLI_ENTRY);
  const cli = expand('${VMEDIA_DIR}/${VMEDIA_CLI}', files, STANDARD_DIRS);
  const unit = readFileSync(path.join(ROOT, 'systemd/xyz.openbmc_project.VirtualMedia.service'), 'utf8');
  assert.match(unit, new RegExp(`^ExecStart=/usr/bin/node ${cli} daemon `, 'm'));
  // every source file do_install names is in the repository (the bundle's are checked in bundle.test.ts)
  const install = expand(files[0]!.functions.get('do_install')!, files, {
    ...STANDARD_DIRS,
    S: ROOT,
    D: '/D',
    B: '/B',
  });
  const sources = [...install.matchAll(/install -m \d+ (\S+)/g)].map((m) => m[1]!);
  assert.ok(sources.length >= 6, install);
  for (const source of sources) assert.ok(existsSync(source), source);
});

test("the kernel fragment names only Kconfig symbols of this machine's kernel, and the bbappend ships it", () => {
  const configs = existsSync('/boot') ? readdirSync('/boot').filter((f) => f.startsWith('config-')) : [];
  assert.ok(configs.length > 0, 'no /boot/config-*: install linux-image-amd64 (scripts/setup.sh --test)');
  const known = new Set(
    configs.flatMap((f) =>
      [...readFileSync(path.join('/boot', f), 'utf8').matchAll(/^(?:# )?(CONFIG_\w+)(?:=[ym"\d-]| is not set)/gm)].map(
        (m) => m[1]!,
      ),
    ),
  );
  const fragment = readFileSync(path.join(LAYER, 'files/vmedia.cfg'), 'utf8');
  const symbols = [...fragment.matchAll(/^(CONFIG_\w+)=[ym]$/gm)].map((m) => m[1]!);
  const lines = fragment.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  assert.equal(symbols.length, lines.length, 'every line is CONFIG_X=y or =m');
  for (const needed of ['CONFIG_BLK_DEV_NBD', 'CONFIG_USB_CONFIGFS_MASS_STORAGE', 'CONFIG_CIFS', 'CONFIG_NFS_FS'])
    assert.ok(symbols.includes(needed), needed);
  for (const symbol of symbols) assert.ok(known.has(symbol), `${symbol} is not in ${configs.join(', ')}`);
  const append = parse('linux-aspeed_%.bbappend');
  assert.ok(words(valueOf([append], 'SRC_URI')).includes('file://vmedia.cfg'));
});
