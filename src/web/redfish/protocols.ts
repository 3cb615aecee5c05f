// URL schemes the daemon serves (its Sources.Schemes property) ⇄ Redfish TransferProtocolType.
export const DMTF_TRANSFER_PROTOCOLS = ['CIFS', 'FTP', 'SFTP', 'HTTP', 'HTTPS', 'NFS', 'SCP', 'TFTP', 'OEM'] as const;

const PROTOCOL_OF_SCHEME: Record<string, string> = {
  https: 'HTTPS',
  http: 'HTTP',
  ftp: 'FTP',
  sftp: 'SFTP',
  smb: 'CIFS',
  cifs: 'CIFS',
  nfs: 'NFS',
};

export function protocolOfScheme(scheme: string): string | undefined {
  return PROTOCOL_OF_SCHEME[scheme.toLowerCase()];
}

/** The TransferProtocolType values a slot can honour now, in DMTF order. */
export function protocolsOf(schemes: readonly string[]): string[] {
  const offered = new Set(schemes.map(protocolOfScheme).filter((p): p is string => p !== undefined));
  return DMTF_TRANSFER_PROTOCOLS.filter((p) => offered.has(p));
}

/** The scheme to prepend when the Image has none: the first the daemon serves for the protocol. */
export function schemeForProtocol(protocol: string, schemes: readonly string[]): string | undefined {
  return schemes.find((s) => protocolOfScheme(s) === protocol);
}
