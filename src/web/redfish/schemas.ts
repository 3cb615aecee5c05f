// Where the schemas of what we serve are published: the DMTF's, as JSON Schema (the Link header
// of a resource) and as CSDL ($metadata). The OpenBMC OEM namespace's CSDL we serve ourselves.
export const DMTF_SCHEMAS = 'http://redfish.dmtf.org/schemas/v1';

/** '#VirtualMedia.v1_6_3.VirtualMedia' → 'VirtualMedia.v1_6_3'; '#SessionCollection.SessionCollection' → 'SessionCollection'. */
export function namespaceOf(odataType: string): string {
  return odataType.replace(/^#/, '').split('.').slice(0, -1).join('.');
}

/** The JSON Schema of a resource of this type, versioned like its @odata.type (DSP0266 "Link header"). */
export function jsonSchemaOf(odataType: string): string {
  return `${DMTF_SCHEMAS}/${namespaceOf(odataType)}.json`;
}
