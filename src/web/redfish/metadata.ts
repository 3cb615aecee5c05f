// The OData metadata document (/redfish/v1/$metadata, CSDL): one <edmx:Reference> per schema
// whose namespaces we answer with, the DMTF's by their published URI and our OEM one served here
// under /redfish/v1/schema/. Readable without logging in (DSP0266 "Service root and metadata").
import type { Response } from 'express';
import type { WebContext } from '../context.js';
import { OPENBMC_VIRTUAL_MEDIA } from './csdl/openbmc-virtual-media.js';
import type { OemSchema } from './csdl/oem-schema.js';
import { VMEDIA_VIRTUAL_MEDIA_SCHEMA } from './csdl/vmedia-virtual-media.js';
import { redfishError } from './messages.js';
import { ODATA_VERSION } from './route.js';
import { DMTF_SCHEMAS } from './schemas.js';

/**
 * The DMTF namespaces of every @odata.type this service answers with, embedded objects
 * included; test/web/conformance.test.ts checks each type it meets is here.
 */
const DMTF_NAMESPACES = [
  'AccountService.v1_15_0',
  'ActionInfo.v1_4_0',
  'Certificate.v1_8_0',
  'CertificateCollection',
  'ComputerSystem.v1_22_0',
  'ComputerSystemCollection',
  'Manager.v1_19_0',
  'ManagerAccount.v1_12_0',
  'ManagerAccountCollection',
  'ManagerCollection',
  'Message.v1_1_1',
  'Role.v1_3_2',
  'RoleCollection',
  // the entity container below extends ServiceRoot.v1_0_0.ServiceContainer
  'ServiceRoot.v1_0_0',
  'ServiceRoot.v1_15_0',
  'Session.v1_7_0',
  'SessionCollection',
  'SessionService.v1_1_8',
  'VirtualMedia.v1_6_3',
  'VirtualMediaCollection',
];

const OEM_SCHEMAS: OemSchema[] = [OPENBMC_VIRTUAL_MEDIA, VMEDIA_VIRTUAL_MEDIA_SCHEMA];

export const SCHEMA_DIR = '/redfish/v1/schema';

function reference(uri: string, includes: string[]): string {
  return [
    `  <edmx:Reference Uri="${uri}">`,
    ...includes.map((i) => `    <edmx:Include ${i}/>`),
    '  </edmx:Reference>',
  ].join('\n');
}

function metadataDocument(): string {
  const bySchema = new Map<string, Set<string>>();
  for (const ns of DMTF_NAMESPACES) {
    const schema = ns.split('.')[0]!;
    // a schema's unversioned namespace holds its abstract base types: always included
    bySchema.set(schema, (bySchema.get(schema) ?? new Set([schema])).add(ns));
  }
  const references = [
    ...[...bySchema].map(([schema, namespaces]) =>
      reference(
        `${DMTF_SCHEMAS}/${schema}_v1.xml`,
        [...namespaces].map((n) => `Namespace="${n}"`),
      ),
    ),
    // the @Redfish.* annotations (ActionInfo, AllowableValues) of our payloads
    reference(`${DMTF_SCHEMAS}/RedfishExtensions_v1.xml`, ['Namespace="RedfishExtensions.v1_0_0" Alias="Redfish"']),
    ...OEM_SCHEMAS.map((s) =>
      reference(
        `${SCHEMA_DIR}/${s.file}`,
        s.namespaces.map((n) => `Namespace="${n}"`),
      ),
    ),
  ];
  return `<?xml version="1.0" encoding="UTF-8"?>
<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">
${references.join('\n')}
  <edmx:DataServices>
    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="Service">
      <EntityContainer Name="Service" Extends="ServiceRoot.v1_0_0.ServiceContainer"/>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
`;
}

function sendXml(res: Response, xml: string): void {
  res.type('application/xml').set('OData-Version', ODATA_VERSION).send(xml);
}

export function registerMetadata({ router, routes }: WebContext): void {
  const metadata = metadataDocument();
  router.get(
    '/redfish/v1/$metadata',
    routes.open((_req, res) => sendXml(res, metadata)),
  );
  router.get(
    `${SCHEMA_DIR}/:file`,
    routes.open((req, res) => {
      const schema = OEM_SCHEMAS.find((s) => s.file === req.params.file);
      if (!schema) throw redfishError(404, 'InvalidURI', [req.originalUrl]);
      sendXml(res, schema.csdl);
    }),
  );
}
