// One OEM CSDL document of ours: the envelope every one shares (the OData core vocabulary,
// RedfishExtensions and Resource references, the edmx wrapper) around its own schemas.
import { DMTF_SCHEMAS } from '../schemas.js';

/** An OEM schema served at /redfish/v1/schema/<file> and referenced from $metadata. */
export interface OemSchema {
  file: string;
  namespaces: string[];
  csdl: string;
}

/**
 * The CSDL document of an OEM schema: `references` are further <edmx:Reference> elements
 * (indented two spaces, one per line), `schemas` the <Schema> elements (indented four).
 */
export function oemCsdl(schemas: string, references = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">
  <edmx:Reference Uri="http://docs.oasis-open.org/odata/odata/v4.0/errata03/csd01/complete/vocabularies/Org.OData.Core.V1.xml">
    <edmx:Include Namespace="Org.OData.Core.V1" Alias="OData"/>
  </edmx:Reference>
  <edmx:Reference Uri="${DMTF_SCHEMAS}/RedfishExtensions_v1.xml">
    <edmx:Include Namespace="RedfishExtensions.v1_0_0" Alias="Redfish"/>
  </edmx:Reference>
  <edmx:Reference Uri="${DMTF_SCHEMAS}/Resource_v1.xml">
    <edmx:Include Namespace="Resource"/>
    <edmx:Include Namespace="Resource.v1_0_0"/>
  </edmx:Reference>
${references}  <edmx:DataServices>
${schemas}  </edmx:DataServices>
</edmx:Edmx>
`;
}
