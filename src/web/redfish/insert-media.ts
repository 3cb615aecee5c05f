// InsertMedia's parameters checked the way bmcweb does (Image required; Inserted=false and
// TransferMethod other than Stream not supported; the Image scheme and TransferProtocolType
// must agree, a missing scheme is filled from the type; credentials ≤ 512 bytes, no NUL), but
// every refusal is the 4xx DMTF message that names the parameter. Credentials go only to images
// fetched over an encrypted transfer.
import { checkBody } from './body.js';
import { redfishError } from './messages.js';
import { DMTF_TRANSFER_PROTOCOLS, protocolOfScheme, protocolsOf, schemeForProtocol } from './protocols.js';
import { ENCRYPTED_SCHEMES, MAX_CREDENTIAL_PART_BYTES } from '../../contract.js';

const ACTION = 'InsertMedia';

export interface InsertRequest {
  url: string;
  writable: boolean;
  credentials?: { user: string; password: string };
}

function notInList(value: string, property: string, allowed: readonly string[]) {
  return redfishError(400, 'PropertyValueNotInList', [value, property], {
    related: [`#/${property}`],
    resolution: `Use one of: ${allowed.join(', ')}.`,
  });
}

function checkCredential(value: string | undefined, property: string): void {
  if (value === undefined) return;
  if (Buffer.byteLength(value, 'utf8') > MAX_CREDENTIAL_PART_BYTES || value.includes('\0')) {
    throw redfishError(400, 'PropertyValueError', [property], {
      related: [`#/${property}`],
      resolution: `${property} must be at most ${MAX_CREDENTIAL_PART_BYTES} bytes and must not contain NUL characters.`,
    });
  }
}

/** The credentials would cross the network in the clear (e.g. HTTP Basic): refused, not sent. */
function refuseUnencryptedCredentials(url: string, withUser: boolean, withPassword: boolean): void {
  const scheme = new URL(url).protocol.slice(0, -1);
  if (ENCRYPTED_SCHEMES.includes(scheme)) return;
  const given = [...(withUser ? ['UserName'] : []), ...(withPassword ? ['Password'] : [])];
  throw redfishError(400, 'PropertyValueConflict', [given[0] ?? 'UserName', 'Image'], {
    related: [...given.map((g) => `#/${g}`), '#/Image'],
    resolution: `${given.join(' and ')} would travel unencrypted over ${scheme}; use an https, sftp or smb Image, or send no credentials.`,
  });
}

/** `schemes`: what the daemon serves on this slot now (Sources.Schemes). */
export function parseInsertMedia(body: unknown, schemes: readonly string[]): InsertRequest {
  const p = checkBody(body, {
    action: ACTION,
    fields: {
      Image: 'string',
      Inserted: 'boolean',
      WriteProtected: 'boolean',
      UserName: 'string',
      Password: 'string',
      TransferMethod: 'string',
      TransferProtocolType: 'string',
    },
    required: ['Image'],
    secret: ['Password'],
  });
  const image = (p.Image as string).trim();
  if (image === '') throw redfishError(400, 'PropertyValueFormatError', ['', 'Image'], { related: ['#/Image'] });
  // eslint-disable-next-line no-control-regex -- control characters are what is refused
  if (/[\x00-\x1f\x7f]/.test(image)) {
    throw redfishError(400, 'PropertyValueFormatError', [image, 'Image'], {
      related: ['#/Image'],
      resolution: 'The Image URL must not contain control characters; percent-encode them.',
    });
  }
  if (p.Inserted === false) {
    throw redfishError(400, 'ActionParameterNotSupported', ['Inserted', ACTION], {
      related: ['#/Inserted'],
      resolution: 'Media is always inserted by InsertMedia; omit Inserted or set it to true.',
    });
  }
  if (p.TransferMethod !== undefined && p.TransferMethod !== 'Stream') {
    if (p.TransferMethod !== 'Upload')
      throw notInList(p.TransferMethod as string, 'TransferMethod', ['Stream', 'Upload']);
    throw redfishError(400, 'ActionParameterNotSupported', ['TransferMethod', ACTION], {
      related: ['#/TransferMethod'],
      resolution: 'Only TransferMethod Stream is supported.',
    });
  }
  const offered = protocolsOf(schemes);
  const type = p.TransferProtocolType as string | undefined;
  if (type !== undefined && !offered.includes(type)) {
    throw notInList(
      type,
      'TransferProtocolType',
      (DMTF_TRANSFER_PROTOCOLS as readonly string[]).includes(type) ? offered : DMTF_TRANSFER_PROTOCOLS,
    );
  }
  checkCredential(p.UserName as string | undefined, 'UserName');
  checkCredential(p.Password as string | undefined, 'Password');

  const url = withScheme(image, type, schemes, offered);
  const user = (p.UserName as string | undefined) ?? '';
  const password = (p.Password as string | undefined) ?? '';
  if (user !== '' || password !== '') refuseUnencryptedCredentials(url, user !== '', password !== '');
  return {
    url,
    writable: p.WriteProtected === false,
    ...(user !== '' || password !== '' ? { credentials: { user, password } } : {}),
  };
}

function withScheme(image: string, type: string | undefined, schemes: readonly string[], offered: string[]): string {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(image)?.[1];
  let url: string;
  if (scheme === undefined) {
    if (type === undefined) {
      throw redfishError(400, 'ActionParameterMissing', [ACTION, 'TransferProtocolType'], {
        related: ['#/TransferProtocolType'],
        resolution: 'Give the Image as a full URL (e.g. https://host/image.iso) or name its TransferProtocolType.',
      });
    }
    url = `${schemeForProtocol(type, schemes)}://${image}`;
  } else {
    const protocol = protocolOfScheme(scheme);
    if (!protocol || !offered.includes(protocol)) {
      throw redfishError(400, 'ResourceAtUriInUnknownFormat', [image], {
        related: ['#/Image'],
        resolution: `The Image URL scheme must be one of: ${schemes.join(', ') || '(none available)'}.`,
      });
    }
    if (type !== undefined && type !== protocol) {
      throw redfishError(400, 'PropertyValueConflict', ['TransferProtocolType', 'Image'], {
        related: ['#/TransferProtocolType', '#/Image'],
        resolution: `The Image scheme ${scheme}:// means ${protocol}; make TransferProtocolType match or omit it.`,
      });
    }
    url = image;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw redfishError(400, 'PropertyValueFormatError', [image, 'Image'], { related: ['#/Image'] });
  }
  if (!parsed.hostname) throw redfishError(400, 'PropertyValueFormatError', [image, 'Image'], { related: ['#/Image'] });
  if (parsed.username || parsed.password) {
    // the URL becomes the ImageURL property on D-Bus and the Image in every GET: no secrets in it
    throw redfishError(400, 'PropertyValueError', ['Image'], {
      related: ['#/Image'],
      resolution: 'Do not put credentials in the Image URL; send them as UserName and Password.',
    });
  }
  return url;
}
