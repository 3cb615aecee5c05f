// Our OEM extension of VirtualMedia (Oem.Vmedia of a Legacy member, docs/generated-media.md#redfish):
// the generated media attached now and the InsertGeneratedMedia action. Served at
// /redfish/v1/schema/<file> and referenced from $metadata, so a validator can resolve
// #VmediaVirtualMedia.v1_0_0.VirtualMedia and #VmediaVirtualMedia.InsertGeneratedMedia.
import { DMTF_SCHEMAS } from '../schemas.js';
import { oemCsdl, type OemSchema } from './oem-schema.js';

export const VMEDIA_VIRTUAL_MEDIA_SCHEMA: OemSchema = {
  file: 'VmediaVirtualMedia_v1.xml',
  namespaces: ['VmediaVirtualMedia', 'VmediaVirtualMedia.v1_0_0'],
  csdl: oemCsdl(
    `    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="VmediaVirtualMedia">
      <Annotation Term="Redfish.OwningEntity" String="vmedia"/>
      <Action Name="InsertGeneratedMedia" IsBound="true">
        <Annotation Term="OData.Description" String="Builds a config drive, NoCloud or floppy image from the request body and inserts it."/>
        <Annotation Term="OData.LongDescription" String="This action shall build a disk image from the JSON document in the request body (format, meta_data, network_data, user_data, vendor_data, parameters, files, eject_after, eject_when_read), in memory, and present it to the host: an ISO 9660 image in a CD slot, a FAT image in a USB-stick slot."/>
        <Parameter Name="VirtualMedia" Type="VirtualMedia.v1_0_0.Actions"/>
        <Parameter Name="format" Type="Edm.String" Nullable="false">
          <Annotation Term="OData.Description" String="config-2, nocloud or floppy."/>
          <Annotation Term="Redfish.Required"/>
        </Parameter>
        <Parameter Name="WriteProtected" Type="Edm.Boolean">
          <Annotation Term="OData.Description" String="false to let the host write to the image (default true)."/>
        </Parameter>
      </Action>
    </Schema>
    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="VmediaVirtualMedia.v1_0_0">
      <Annotation Term="Redfish.OwningEntity" String="vmedia"/>
      <Annotation Term="Redfish.Release" String="1.0"/>
      <EntityType Name="VirtualMedia" BaseType="Resource.OemObject" Abstract="true">
        <Annotation Term="OData.Description" String="vmedia extension of a virtual media member."/>
        <Annotation Term="OData.LongDescription" String="This type shall contain the vmedia properties of a VirtualMedia resource."/>
        <Property Name="GeneratedMedia" Type="VmediaVirtualMedia.v1_0_0.GeneratedMedia">
          <Annotation Term="OData.Permissions" EnumMember="OData.Permission/Read"/>
          <Annotation Term="OData.Description" String="The generated media inserted now, or null."/>
          <Annotation Term="OData.LongDescription" String="This property shall describe the image built by InsertGeneratedMedia while it is inserted, and shall be null otherwise."/>
        </Property>
      </EntityType>
      <ComplexType Name="GeneratedMedia">
        <Annotation Term="OData.AdditionalProperties" Bool="false"/>
        <Annotation Term="OData.Description" String="An image built by InsertGeneratedMedia."/>
        <Property Name="Nonce" Type="Edm.String" Nullable="false">
          <Annotation Term="OData.Permissions" EnumMember="OData.Permission/Read"/>
          <Annotation Term="OData.Description" String="The per-insertion nonce, also inside the image, so the host can check it reads the media meant for it."/>
        </Property>
        <Property Name="Format" Type="Edm.String" Nullable="false">
          <Annotation Term="OData.Permissions" EnumMember="OData.Permission/Read"/>
          <Annotation Term="OData.Description" String="config-2, nocloud or floppy."/>
        </Property>
        <Property Name="Label" Type="Edm.String" Nullable="false">
          <Annotation Term="OData.Permissions" EnumMember="OData.Permission/Read"/>
          <Annotation Term="OData.Description" String="The file system label the host sees."/>
        </Property>
      </ComplexType>
    </Schema>
`,
    `  <edmx:Reference Uri="${DMTF_SCHEMAS}/VirtualMedia_v1.xml">
    <edmx:Include Namespace="VirtualMedia"/>
  </edmx:Reference>
`,
  ),
};
