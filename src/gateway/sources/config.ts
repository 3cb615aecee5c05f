// The gateway's sources file (`--sources`): which hosts image sources may be on, the CA of private
// ones, and the credentials of registries' token services. It holds passwords: the gateway reads
// it at start and never writes, logs or answers them.
//
//   {"AllowedHosts": ["registry.lab:5000"], "CaFile": "/etc/vmedia-gateway/lab-ca.pem",
//    "Registries": [{"Host": "registry.lab:5000", "Username": "gateway", "Password": "…"}]}
import { readFileSync } from 'node:fs';
import type { SourcesConfig } from './image-sources.js';
import type { RegistryCredentials } from './registry-tokens.js';

export function loadSourcesConfig(file: string): SourcesConfig {
  let raw: { AllowedHosts?: unknown; CaFile?: unknown; Registries?: unknown };
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as typeof raw;
  } catch (err) {
    throw new Error(`sources file ${file}: ${(err as Error).message}`, { cause: err });
  }
  const fail = (what: string) => new Error(`sources file ${file}: ${what}`);
  const config: SourcesConfig = {};
  if (raw.AllowedHosts !== undefined) {
    if (!Array.isArray(raw.AllowedHosts) || !raw.AllowedHosts.every((h) => typeof h === 'string' && h !== ''))
      throw fail('AllowedHosts: a list of "host[:port]"');
    config.allowedHosts = raw.AllowedHosts as string[];
  }
  if (raw.CaFile !== undefined) {
    if (typeof raw.CaFile !== 'string') throw fail('CaFile: a PEM file path');
    config.extraCaPem = readFileSync(raw.CaFile, 'utf8');
  }
  if (raw.Registries !== undefined) {
    if (!Array.isArray(raw.Registries)) throw fail('Registries: a list of {Host, Username, Password}');
    const registries = new Map<string, RegistryCredentials>();
    (raw.Registries as Record<string, unknown>[]).forEach((r, i) => {
      if (typeof r.Host !== 'string' || typeof r.Username !== 'string' || typeof r.Password !== 'string')
        throw fail(`Registries[${i}]: Host, Username and Password are strings`);
      registries.set(r.Host.toLowerCase(), { username: r.Username, password: r.Password });
    });
    config.registries = registries;
  }
  return config;
}
