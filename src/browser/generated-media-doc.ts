// The common case of a generated-media document, built from a few form fields: a host name, an
// SSH key, a CA certificate to trust and the network (DHCP or one static IPv4 address). The
// network goes in the format's own dialect: cloud-init network config v2 for NoCloud, OpenStack
// network_data.json for a config drive (which ties it to the NIC's MAC address).

export interface CommonCase {
  format: string;
  hostname: string;
  sshKey: string;
  caCertificate: string;
  /** Undefined: DHCP. */
  staticIp?: { address: string; gateway: string; dns: string; mac: string };
}

/** 24 → "255.255.255.0". */
function netmaskOf(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (bits >>> shift) & 0xff).join('.');
}

/** "192.0.2.10/24" → its parts; throws a message for the form. */
function parseCidr(text: string): { ip: string; prefix: number } {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(text.trim());
  if (!m || Number(m[2]) > 32) throw new Error('Give the address as IPv4/prefix, e.g. 192.0.2.10/24.');
  return { ip: m[1]!, prefix: Number(m[2]) };
}

function network(c: CommonCase): object | undefined {
  const s = c.staticIp;
  if (c.format === 'nocloud') {
    const eth = s
      ? {
          addresses: [s.address.trim()],
          ...(s.gateway ? { routes: [{ to: '0.0.0.0/0', via: s.gateway.trim() }] } : {}),
          ...(s.dns ? { nameservers: { addresses: [s.dns.trim()] } } : {}),
        }
      : { dhcp4: true };
    const match = s?.mac ? { macaddress: s.mac.trim().toLowerCase() } : { name: 'e*' };
    return { version: 2, ethernets: { eth0: { match, ...eth } } };
  }
  // config-2 without network_data: cloud-init configures DHCP on the first NIC
  if (!s) return undefined;
  if (!s.mac) throw new Error('A config drive ties a static address to a NIC: give its MAC address.');
  const { ip, prefix } = parseCidr(s.address);
  return {
    links: [{ id: 'eth0', type: 'phy', ethernet_mac_address: s.mac.trim().toLowerCase() }],
    networks: [
      {
        id: 'net0',
        link: 'eth0',
        type: 'ipv4',
        ip_address: ip,
        netmask: netmaskOf(prefix),
        routes: s.gateway ? [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: s.gateway.trim() }] : [],
      },
    ],
    services: s.dns ? [{ type: 'dns', address: s.dns.trim() }] : [],
  };
}

/** The document for InsertGeneratedMedia; throws an Error whose message the form shows. */
export function commonCaseDocument(c: CommonCase, instanceId: string): Record<string, unknown> {
  if (c.format === 'floppy') throw new Error("Ironic's floppy takes agent parameters: upload a JSON document.");
  const hostname = c.hostname.trim();
  const sshKey = c.sshKey.trim();
  const ca = c.caCertificate.trim();
  const net = network(c);
  return {
    format: c.format,
    meta_data: {
      uuid: instanceId,
      ...(hostname ? { hostname } : {}),
      ...(sshKey ? { public_keys: { default: sshKey } } : {}),
    },
    ...(net ? { network_data: net } : {}),
    ...(ca ? { user_data: { ca_certs: { trusted: [`${ca}\n`] } } } : {}),
  };
}
