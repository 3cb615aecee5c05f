// Config drive and NoCloud images, on both targets, read the way a booting host reads them:
// blkid finds the label, xorriso/mtools extract the files, and cloud-init's own readers (not its
// datasource classes, which probe this machine) accept them with exactly the given data.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  buildGeneratedMedia,
  type GeneratedMediaFormat,
  type GeneratedMediaTarget,
} from '../../src/generated-media/index.js';
import { documentFor, EXTRA_FILES, KNOWN_MACS, NONCE, userData } from './inputs.js';
import { blkid, extractFat, extractIso, python, tempDir, writeImage } from './tools.js';

// One python3 process reads every image's files (importing cloud-init takes seconds): stdin is a
// list of {kind, dir, macs}, stdout the list of what each reader returned.
const READERS = `
import json, sys
from cloudinit import util
from cloudinit.config.schema import get_schema, validate_cloudconfig_schema
from cloudinit.net.network_state import parse_net_config_data
from cloudinit.sources.DataSourceConfigDrive import read_config_drive
from cloudinit.sources.helpers import openstack

def config_drive(args):
  found = read_config_drive(args['dir'])
  user_data = util.load_yaml(found['userdata'])
  validate_cloudconfig_schema(user_data, get_schema(), strict=True)
  # convert_net_json changes the dict it is given: copy what was read first
  as_read = json.loads(json.dumps({'metadata': found['metadata'], 'userdata': user_data,
                                   'vendordata': found['vendordata'], 'networkdata': found['networkdata']}))
  return {**as_read, 'network': openstack.convert_net_json(found['networkdata'], known_macs=args['macs'])}

def nocloud(args):
  seed = util.pathprefix2dict(args['dir'], required=['meta-data', 'user-data'], optional=['network-config', 'vendor-data'])
  loaded = {name: util.load_yaml(blob) for name, blob in seed.items()}
  validate_cloudconfig_schema(loaded['user-data'], get_schema(), strict=True)
  validate_cloudconfig_schema(loaded['vendor-data'], get_schema(), strict=True)
  state = parse_net_config_data(loaded['network-config'])
  interfaces = [{'name': i['name'], 'addresses': [s.get('address') for s in i['subnets']]} for i in state.iter_interfaces()]
  return {'seed': loaded, 'interfaces': interfaces}

print(json.dumps([config_drive(a) if a['kind'] == 'config-2' else nocloud(a) for a in json.load(sys.stdin)]))
`;

const CASES = (['cd', 'usb'] as const).flatMap((target) =>
  (['config-2', 'nocloud'] as const).map((format) => ({ format, target })),
);

async function extracted(dir: string, format: GeneratedMediaFormat, target: GeneratedMediaTarget) {
  const document = documentFor(format);
  const media = buildGeneratedMedia(document, { nonce: NONCE, target });
  const image = writeImage(dir, `${format}-${target}.img`, media.image);
  const into = path.join(dir, `${format}-${target}`);
  const files = await (target === 'cd' ? extractIso(image, into) : extractFat(image, into));
  return { document, media, image, into, files };
}

const tmp = tempDir();
after(tmp.remove);
const built = Promise.all(CASES.map((c) => extracted(tmp.dir, c.format, c.target)));
const readByCloudInit = built.then(async (all) =>
  python(
    READERS,
    all.map((b, i) => ({ kind: CASES[i]!.format, dir: b.into, macs: KNOWN_MACS })),
  ),
);
const caseOf = async (format: GeneratedMediaFormat, target: GeneratedMediaTarget) => {
  const i = CASES.findIndex((c) => c.format === format && c.target === target);
  return { ...(await built)[i]!, read: (await readByCloudInit)[i]! };
};

function assertCommonFiles(files: Map<string, Buffer>, mediaFiles: string[]) {
  assert.deepEqual([...files.keys()].sort(), mediaFiles);
  assert.equal(files.get('vmedia-nonce')?.toString(), `${NONCE}\n`);
  for (const f of EXTRA_FILES)
    assert.deepEqual(
      files.get(f.path),
      f.content !== undefined ? Buffer.from(f.content) : Buffer.from(f.content_base64, 'base64'),
    );
}

for (const target of ['cd', 'usb'] as const) {
  test(`config-2 on a ${target} target: label, files, and cloud-init's ConfigDrive reader`, async () => {
    const { document, media, image, files, read } = await caseOf('config-2', target);
    const id = await blkid(image);
    assert.equal(id.LABEL, 'config-2');
    assert.equal(id.TYPE, target === 'cd' ? 'iso9660' : 'vfat');
    if (target === 'cd') assert.equal(id.VOLUME_SET_ID, NONCE);
    else assert.equal(id.UUID, '0123-4567'); // the FAT serial is the nonce's first 8 digits
    assertCommonFiles(files, media.files);
    assert.deepEqual(read.metadata, {
      ...document.meta_data,
      meta: { vmedia_nonce: NONCE },
      // read_config_drive adds these two from uuid and hostname
      'instance-id': document.meta_data!.uuid,
      'local-hostname': document.meta_data!.hostname,
    });
    assert.deepEqual(read.userdata, userData);
    assert.deepEqual(read.vendordata, document.vendor_data);
    assert.deepEqual(read.networkdata, document.network_data);
    const [nic] = read.network.config;
    assert.equal(nic.type, 'physical');
    assert.equal(nic.name, 'eth0');
    assert.equal(nic.subnets[0].address, '192.0.2.10');
  });

  test(`nocloud on a ${target} target: label, files, and cloud-init's NoCloud seed reader`, async () => {
    const { document, media, image, files, read } = await caseOf('nocloud', target);
    const id = await blkid(image);
    assert.equal(id.LABEL, target === 'cd' ? 'cidata' : 'CIDATA');
    assertCommonFiles(files, media.files);
    assert.deepEqual(read.seed['meta-data'], {
      'instance-id': document.meta_data!.uuid,
      'local-hostname': document.meta_data!.hostname,
      'public-keys': document.meta_data!.public_keys,
      availability_zone: document.meta_data!.availability_zone,
      'vmedia-nonce': NONCE,
    });
    assert.deepEqual(read.seed['user-data'], userData);
    assert.deepEqual(read.seed['vendor-data'], document.vendor_data);
    assert.deepEqual(read.seed['network-config'], document.network_data);
    // network_state splits the prefix off the address
    assert.deepEqual(read.interfaces, [{ name: 'eth0', addresses: ['192.0.2.10'] }]);
  });
}
