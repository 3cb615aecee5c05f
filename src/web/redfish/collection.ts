// The body of a Redfish resource collection: its id, type and name, and links to its members.
export function collection(odataId: string, type: string, name: string, memberIds: string[]): object {
  return {
    '@odata.id': odataId,
    '@odata.type': `#${type}.${type}`,
    Name: name,
    Members: memberIds.map((id) => ({ '@odata.id': id })),
    'Members@odata.count': memberIds.length,
  };
}
