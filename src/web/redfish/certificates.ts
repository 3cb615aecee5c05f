// Certificate collections feeding the daemon's TrustStore (CA PEMs for HTTPS image servers):
// the manager's Truststore/Certificates and each Legacy slot's Certificates (DMTF
// VirtualMedia.Certificates, under each place the member is served). All write into the one
// TrustStore directory the daemon watches.
import type { X509Certificate } from 'node:crypto';
import type { WebContext } from '../context.js';
import { CertificateRejected, type StoredCertificate, type TrustStoreDir } from '../trust-store-dir.js';
import { checkBody } from './body.js';
import { collection } from './collection.js';
import { MANAGER } from './managers.js';
import { redfishError } from './messages.js';
import { sendJson } from './route.js';
import { findSlot, VIRTUAL_MEDIA_COLLECTIONS } from './virtual-media.js';

/** "CN=x\nO=y" → {CommonName: "x", Organization: "y"} (Certificate.Identifier). */
function identifier(dn: string): Record<string, string> {
  const names: Record<string, string> = {
    CN: 'CommonName',
    O: 'Organization',
    OU: 'OrganizationalUnit',
    L: 'City',
    ST: 'State',
    C: 'Country',
    emailAddress: 'Email',
  };
  const out: Record<string, string> = {};
  for (const line of dn.split('\n')) {
    const eq = line.indexOf('=');
    const key = names[line.slice(0, eq)];
    if (eq > 0 && key) out[key] = line.slice(eq + 1);
  }
  return out;
}

/** Node's "0ABC" → "0A:BC": the colon-separated upper-case hex bytes Certificate.SerialNumber takes. */
function serialNumber(hex: string): string {
  const even = hex.length % 2 === 0 ? hex : `0${hex}`;
  return (even.toUpperCase().match(/../g) ?? []).join(':');
}

function certificateJson(collection: string, c: StoredCertificate): object {
  const x: X509Certificate = c.x509;
  return {
    '@odata.id': `${collection}/${c.id}`,
    '@odata.type': '#Certificate.v1_8_0.Certificate',
    Id: c.id,
    Name: 'Trusted CA Certificate',
    CertificateString: c.pem,
    CertificateType: 'PEM',
    Issuer: identifier(x.issuer),
    Subject: identifier(x.subject),
    ValidNotBefore: new Date(x.validFrom).toISOString(),
    ValidNotAfter: new Date(x.validTo).toISOString(),
    SerialNumber: serialNumber(x.serialNumber),
    Fingerprint: x.fingerprint256,
    FingerprintHashAlgorithm: 'TPM_ALG_SHA256',
  };
}

interface CollectionPlace {
  odataId: string;
  prefix: string;
}

function registerCollection(ctx: WebContext, route: string, place: (slot?: string) => Promise<CollectionPlace>): void {
  const { router, routes } = ctx;
  const store = (): TrustStoreDir => {
    if (!ctx.trustStore) {
      throw redfishError(405, 'OperationNotAllowed', [], {
        resolution: 'This service runs without a trust store (vmedia web --truststore DIR).',
      });
    }
    return ctx.trustStore;
  };
  const slotOf = (params: Record<string, unknown>) => (typeof params.slot === 'string' ? params.slot : undefined);

  router.get(
    route,
    routes.guarded('Login', async (req, res) => {
      const { odataId, prefix } = await place(slotOf(req.params));
      const members = (ctx.trustStore?.list(prefix) ?? []).map((c) => `${odataId}/${c.id}`);
      sendJson(res, 200, {
        ...collection(odataId, 'CertificateCollection', 'Certificates', members),
        '@Redfish.SupportedCertificates': ['PEM'],
      });
    }),
  );
  router.post(
    route,
    routes.guarded('ConfigureManager', async (req, res) => {
      const { odataId, prefix } = await place(slotOf(req.params));
      const body = checkBody(req.body, {
        fields: { CertificateString: 'string', CertificateType: 'string' },
        required: ['CertificateString'],
      });
      if (body.CertificateType !== undefined && body.CertificateType !== 'PEM') {
        throw redfishError(400, 'PropertyValueNotInList', [body.CertificateType as string, 'CertificateType'], {
          related: ['#/CertificateType'],
        });
      }
      let added: StoredCertificate;
      try {
        added = store().add(prefix, body.CertificateString as string);
      } catch (err) {
        if (!(err instanceof CertificateRejected)) throw err;
        switch (err.reason) {
          case 'duplicate':
            throw redfishError(409, 'ResourceAlreadyExists', ['Certificate', 'CertificateString', '<certificate>'], {
              resolution: `This certificate is ${err.message}.`,
            });
          case 'full':
            throw redfishError(400, 'CreateLimitReachedForResource', [], {
              resolution: `${odataId}: ${err.message}; delete one first.`,
            });
          case 'invalid':
            throw redfishError(400, 'PropertyValueFormatError', ['<certificate>', 'CertificateString'], {
              related: ['#/CertificateString'],
              resolution: err.message,
            });
        }
      }
      res.set('Location', `${odataId}/${added.id}`);
      sendJson(res, 201, certificateJson(odataId, added));
    }),
  );
  const one = async (params: Record<string, unknown>) => {
    const { odataId, prefix } = await place(slotOf(params));
    const id = String(params.id);
    const cert = ctx.trustStore?.get(prefix, id);
    if (!cert) throw redfishError(404, 'ResourceNotFound', ['Certificate', id]);
    return { odataId, prefix, cert };
  };
  router.get(
    `${route}/:id`,
    routes.guarded('Login', async (req, res) => {
      const { odataId, cert } = await one(req.params);
      sendJson(res, 200, certificateJson(odataId, cert));
    }),
  );
  router.delete(
    `${route}/:id`,
    routes.guarded('ConfigureManager', async (req, res) => {
      const { prefix, cert } = await one(req.params);
      store().remove(prefix, cert.id);
      res.status(204).end();
    }),
  );
}

export function registerCertificates(ctx: WebContext): void {
  const truststore = `${MANAGER}/Truststore/Certificates`;
  registerCollection(ctx, truststore, async () => ({ odataId: truststore, prefix: '' }));
  for (const members of VIRTUAL_MEDIA_COLLECTIONS) {
    registerCollection(ctx, `${members}/:slot/Certificates`, async (name) => {
      const slot = await findSlot(ctx, name ?? '');
      if (slot.mode !== 'Legacy')
        throw redfishError(404, 'ResourceNotFound', ['CertificateCollection', `${slot.name}/Certificates`]);
      return { odataId: `${members}/${slot.name}/Certificates`, prefix: `${slot.name}-` };
    });
  }
}
