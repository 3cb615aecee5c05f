// The OpenBMC OEM extension of VirtualMedia (Oem.OpenBMC of a member, as current bmcweb answers
// it): the WebSocket endpoint of a Proxy slot. Served at /redfish/v1/schema/<file> and referenced
// from $metadata, so a validator can resolve #OpenBMCVirtualMedia.v1_0_0.VirtualMedia.
import { oemCsdl, type OemSchema } from './oem-schema.js';

export const OPENBMC_VIRTUAL_MEDIA: OemSchema = {
  file: 'OpenBMCVirtualMedia_v1.xml',
  namespaces: ['OpenBMCVirtualMedia', 'OpenBMCVirtualMedia.v1_0_0'],
  csdl: oemCsdl(`    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="OpenBMCVirtualMedia">
      <Annotation Term="Redfish.OwningEntity" String="OpenBMC"/>
    </Schema>
    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="OpenBMCVirtualMedia.v1_0_0">
      <Annotation Term="Redfish.OwningEntity" String="OpenBMC"/>
      <Annotation Term="Redfish.Release" String="1.0"/>
      <EntityType Name="VirtualMedia" BaseType="Resource.OemObject" Abstract="true">
        <Annotation Term="OData.Description" String="OpenBMC extension of a virtual media member."/>
        <Annotation Term="OData.LongDescription" String="This type shall contain the OpenBMC properties of a VirtualMedia resource."/>
        <Property Name="WebSocketEndpoint" Type="Edm.String">
          <Annotation Term="OData.Permissions" EnumMember="OData.Permission/Read"/>
          <Annotation Term="OData.Description" String="The WebSocket path a browser serves the image on, for a Proxy slot."/>
          <Annotation Term="OData.LongDescription" String="This property shall contain the path, on this service, of the WebSocket over which a client serves the image of this Proxy-mode slot as an NBD server."/>
        </Property>
      </EntityType>
    </Schema>
`),
};
