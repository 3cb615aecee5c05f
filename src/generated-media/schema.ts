// The input document of the generator (docs/generated-media.md#input). The schema checks shapes
// and characters; rules that span properties (duplicate paths, the total size, the nonce key)
// live in validate.ts and files.ts.
export type GeneratedMediaFormat = 'config-2' | 'nocloud' | 'floppy';

export type JsonObject = { [key: string]: unknown };

export interface MetaData {
  /** The instance id: `uuid` in OpenStack meta_data.json, `instance-id` in NoCloud meta-data. */
  uuid: string;
  hostname?: string;
  /** name → one OpenSSH public key line. */
  public_keys?: Record<string, string>;
  availability_zone?: string;
  [key: string]: unknown;
}

export interface ExtraFile {
  /** Relative to the image root, '/'-separated. */
  path: string;
  content?: string;
  content_base64?: string;
}

export interface GeneratedMediaInput {
  format: GeneratedMediaFormat;
  meta_data?: MetaData;
  /** OpenStack network_data.json (config-2) or cloud-init network config v1/v2 (nocloud). */
  network_data?: JsonObject;
  /** Verbatim text (cloud-config, a script, MIME multipart) or an object written as #cloud-config. */
  user_data?: string | JsonObject;
  vendor_data?: string | JsonObject;
  /** Ironic agent parameters (floppy): key=value lines of parameters.txt. */
  parameters?: Record<string, string>;
  files?: ExtraFile[];
  /** Read by the daemon, not written into the image: eject after this many seconds attached. */
  eject_after?: number;
  /** Read by the daemon, not written into the image: eject once the host has read every byte. */
  eject_when_read?: boolean;
}

/** One path component: portable file name characters, the same on ISO 9660 (Rock Ridge and
 *  Joliet) and FAT long names, never starting with a dot (so never "." or "..") nor ending with
 *  one (Windows drops it); Joliet's limit is 64 characters with the version `;1`. */
const PATH_COMPONENT = '[A-Za-z0-9_+-]([A-Za-z0-9._+-]{0,60}[A-Za-z0-9_+-])?';
/** Relative, at most 8 levels (ISO 9660 level 1's depth). */
const PATH_PATTERN = `^${PATH_COMPONENT}(/${PATH_COMPONENT}){0,7}$`;
const HOSTNAME_PATTERN =
  '^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$';
/** Text without control characters other than tab: one line of a key file or a YAML scalar. */
const ONE_LINE = '^[^\\x00-\\x08\\x0a-\\x1f\\x7f]+$';

export const inputSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['format'],
  properties: {
    format: { type: 'string', enum: ['config-2', 'nocloud', 'floppy'] },
    meta_data: {
      type: 'object',
      required: ['uuid'],
      properties: {
        uuid: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' },
        hostname: { type: 'string', pattern: HOSTNAME_PATTERN },
        public_keys: {
          type: 'object',
          required: [],
          propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$' },
          additionalProperties: { type: 'string', minLength: 1, maxLength: 16384, pattern: ONE_LINE },
        },
        availability_zone: { type: 'string', minLength: 1, maxLength: 255, pattern: ONE_LINE },
      },
    },
    network_data: { type: 'object' },
    user_data: { type: ['string', 'object'] },
    vendor_data: { type: ['string', 'object'] },
    parameters: {
      type: 'object',
      required: [],
      // the agent splits parameters.txt on whitespace and each item at the first '='
      propertyNames: { pattern: '^[A-Za-z0-9_.-]{1,128}$' },
      additionalProperties: { type: 'string', pattern: '^[^\\s]{1,4096}$' },
    },
    files: {
      type: 'array',
      maxItems: 1024,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['path'],
        properties: {
          path: { type: 'string', maxLength: 255, pattern: PATH_PATTERN },
          content: { type: 'string' },
          // checked in files.ts: a base64 pattern costs seconds on megabytes
          content_base64: { type: 'string' },
        },
        oneOf: [{ required: ['content'] }, { required: ['content_base64'] }],
      },
    },
    eject_after: { type: 'integer', minimum: 1, maximum: 7 * 24 * 3600 },
    eject_when_read: { type: 'boolean' },
  },
  allOf: [
    {
      if: { type: 'object', required: ['format'], properties: { format: { const: 'floppy' } } },
      then: {
        type: 'object',
        properties: {
          meta_data: false,
          network_data: false,
          user_data: false,
          vendor_data: false,
        },
      },
      else: { type: 'object', required: ['meta_data'], properties: { parameters: false } },
    },
    {
      if: { type: 'object', required: ['format'], properties: { format: { const: 'nocloud' } } },
      then: {
        type: 'object',
        properties: {
          network_data: { type: 'object', required: ['version'], properties: { version: { enum: [1, 2] } } },
        },
      },
    },
    {
      if: { type: 'object', required: ['format'], properties: { format: { const: 'config-2' } } },
      then: {
        type: 'object',
        properties: {
          network_data: {
            type: 'object',
            properties: {
              links: { type: 'array', items: { type: 'object' } },
              networks: { type: 'array', items: { type: 'object' } },
              services: { type: 'array', items: { type: 'object' } },
            },
          },
          vendor_data: { type: 'object' },
        },
      },
    },
  ],
} as const;
