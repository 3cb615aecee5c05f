// NoCloud ("cidata"), as cloud-init's NoCloud datasource reads it: meta-data (YAML: instance-id,
// local-hostname, public-keys, the nonce as vmedia-nonce), user-data (always present: NoCloud
// requires it), network-config (network config v1/v2 as YAML) and vendor-data.
import { cloudConfigText, yamlText } from '../cloud-config.js';
import { GeneratedMediaError, jsonPointer } from '../errors.js';
import { layoutFile, type MediaFile } from '../files.js';
import type { GeneratedMediaInput, JsonObject, MetaData } from '../schema.js';

const NOCLOUD_NONCE_KEY = 'vmedia-nonce';
/** meta-data keys written from other input properties, so the input may not give them itself. */
const DERIVED_KEYS: Record<string, string> = {
  'instance-id': 'uuid',
  'local-hostname': 'hostname',
  'public-keys': 'public_keys',
  [NOCLOUD_NONCE_KEY]: '',
};

function metaDataText(meta: MetaData, nonce: string): string {
  const { uuid, hostname, public_keys: publicKeys, ...rest } = meta;
  for (const key of Object.keys(rest))
    if (Object.hasOwn(DERIVED_KEYS, key))
      throw new GeneratedMediaError(
        DERIVED_KEYS[key]
          ? `is written from /meta_data/${DERIVED_KEYS[key]}`
          : 'is set by vmedia (the attachment nonce)',
        jsonPointer('meta_data', key),
      );
  const out: JsonObject = { 'instance-id': uuid };
  if (hostname !== undefined) out['local-hostname'] = hostname;
  if (publicKeys !== undefined) out['public-keys'] = publicKeys;
  return yamlText({ ...out, ...rest, [NOCLOUD_NONCE_KEY]: nonce });
}

const userDataText = (data: string | JsonObject) => (typeof data === 'string' ? data : cloudConfigText(data));

export function noCloudFiles(input: GeneratedMediaInput, nonce: string): MediaFile[] {
  const files = [
    layoutFile('meta-data', metaDataText(input.meta_data!, nonce)),
    layoutFile('user-data', input.user_data === undefined ? '' : userDataText(input.user_data)),
  ];
  if (input.network_data) files.push(layoutFile('network-config', yamlText(input.network_data)));
  if (input.vendor_data !== undefined) files.push(layoutFile('vendor-data', userDataText(input.vendor_data)));
  return files;
}
