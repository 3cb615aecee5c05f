// Input documents of the generated-media tests: what a provisioning system would send.
import type { GeneratedMediaFormat } from '../../src/generated-media/index.js';

export const NONCE = '0123456789abcdef0123456789abcdef';
export const OTHER_NONCE = 'fedcba9876543210fedcba9876543210';

export const CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBhTCCASugAwIBAgIUeXv0m4m9c2yFq6dnzvDqGkC4hQ4wCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNdm1lZGlhLXRlc3QtY2EwHhcNMjQwMTAxMDAwMDAwWhcNMzQw
-----END CERTIFICATE-----
`;

const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHyr4KfVw5p2n0mE6bq7oE9w4I1m9v2zJ0m9v2zJ0m9v admin@bastion';
const MAC = '52:54:00:12:34:56';

const metaData = {
  uuid: '83679162-1378-4288-a2d4-70e13ec132aa',
  hostname: 'node-1.example.net',
  public_keys: { admin: SSH_KEY },
  availability_zone: 'rack-7',
};

/** cloud-config of a first boot: time, one CA, check-in URL, SSH key. */
export const userData = {
  ntp: { enabled: true, servers: ['10.0.0.1', 'ntp.example.net'] },
  ca_certs: { trusted: [CA_PEM] },
  ssh_authorized_keys: [SSH_KEY],
  phone_home: {
    url: 'https://provision.example.net/checkin/$INSTANCE_ID',
    post: ['instance_id', 'hostname'],
    tries: 5,
  },
  write_files: [{ path: '/etc/vmedia-test', content: 'written by cloud-init\n', permissions: '0644' }],
};

const openStackNetwork = {
  links: [{ id: 'eth0', type: 'phy', ethernet_mac_address: MAC, mtu: 1500 }],
  networks: [
    {
      id: 'net0',
      link: 'eth0',
      type: 'ipv4',
      ip_address: '192.0.2.10',
      netmask: '255.255.255.0',
      routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '192.0.2.1' }],
    },
  ],
  services: [{ type: 'dns', address: '192.0.2.53' }],
};

const networkV2 = {
  version: 2,
  ethernets: {
    eth0: {
      match: { macaddress: MAC },
      'set-name': 'eth0',
      addresses: ['192.0.2.10/24'],
      routes: [{ to: '0.0.0.0/0', via: '192.0.2.1' }],
      nameservers: { addresses: ['192.0.2.53'] },
    },
  },
};

export const EXTRA_FILES = [
  { path: 'certs/ca.pem', content: CA_PEM },
  { path: 'agent/Token+Binary.bin', content_base64: Buffer.from([0, 1, 2, 254, 255]).toString('base64') },
];

export const KNOWN_MACS = { [MAC]: 'eth0' };

export function documentFor(format: GeneratedMediaFormat) {
  if (format === 'floppy')
    return { format, parameters: { ipa_api_url: 'https://10.0.0.1:6385', boot_method: 'vmedia', 'ipa-debug': '1' } };
  return {
    format,
    meta_data: metaData,
    network_data: format === 'config-2' ? openStackNetwork : networkV2,
    user_data: userData,
    vendor_data:
      format === 'config-2' ? { 'cloud-init': '#cloud-config\npackage_update: false\n' } : { package_update: false },
    files: EXTRA_FILES,
  };
}
