// OpenStack config drive ("config-2"), as cloud-init's ConfigDrive datasource reads it:
// openstack/latest/{meta_data.json, network_data.json, user_data, vendor_data.json}. The nonce
// goes into meta_data.json's `meta` (OpenStack's user metadata) as `vmedia_nonce`.
import { cloudConfigText } from '../cloud-config.js';
import { GeneratedMediaError, jsonPointer } from '../errors.js';
import { layoutFile, type MediaFile } from '../files.js';
import type { GeneratedMediaInput, MetaData } from '../schema.js';

const CONFIG_DRIVE_NONCE_KEY = 'vmedia_nonce';
const DIR = 'openstack/latest';

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

function metaDataWithNonce(meta: MetaData, nonce: string): MetaData {
  const userMeta = meta.meta ?? {};
  if (typeof userMeta !== 'object' || userMeta === null || Array.isArray(userMeta))
    throw new GeneratedMediaError('must be an object', '/meta_data/meta');
  if (Object.hasOwn(userMeta, CONFIG_DRIVE_NONCE_KEY))
    throw new GeneratedMediaError(
      'is set by vmedia (the attachment nonce)',
      jsonPointer('meta_data', 'meta', CONFIG_DRIVE_NONCE_KEY),
    );
  return { ...meta, meta: { ...userMeta, [CONFIG_DRIVE_NONCE_KEY]: nonce } };
}

export function configDriveFiles(input: GeneratedMediaInput, nonce: string): MediaFile[] {
  const files = [layoutFile(`${DIR}/meta_data.json`, json(metaDataWithNonce(input.meta_data!, nonce)))];
  if (input.network_data) files.push(layoutFile(`${DIR}/network_data.json`, json(input.network_data)));
  if (input.user_data !== undefined)
    files.push(
      layoutFile(
        `${DIR}/user_data`,
        typeof input.user_data === 'string' ? input.user_data : cloudConfigText(input.user_data),
      ),
    );
  if (input.vendor_data !== undefined) files.push(layoutFile(`${DIR}/vendor_data.json`, json(input.vendor_data)));
  return files;
}
