// Which TLS cipher the web prefers. Every byte of a Proxy slot passes through TLS, and on a CPU
// without AES instructions (the AST2600's Cortex-A7) AES-GCM is ~20× slower than ChaCha20-Poly1305,
// while a client with AES hardware of its own proposes AES-GCM first: so the server orders the
// ciphers (honorCipherOrder, TLS 1.3 and 1.2 alike) by what this CPU does fast.
import { readFileSync } from 'node:fs';

export const CIPHER_PREFERENCES = ['auto', 'aes', 'chacha20'] as const;
export type CipherPreference = (typeof CIPHER_PREFERENCES)[number];

// forward secret AEAD suites only; TLS 1.3 names first (OpenSSL takes both in one list)
const AES = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
];
const CHACHA20 = ['TLS_CHACHA20_POLY1305_SHA256', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305'];

/**
 * Whether the CPU has AES instructions, from /proc/cpuinfo: the `aes` flag (x86 "flags", Arm
 * "Features"). Unreadable or unknown: false, which prefers ChaCha20 (fast everywhere).
 */
export function cpuHasAes(cpuinfo?: string): boolean {
  let text = cpuinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return false;
    }
  }
  return /^(?:flags|Features)\s*:.*\baes\b/m.test(text);
}

export interface CipherChoice {
  /** The suite the server picks when the client offers it. */
  preferred: 'AES-GCM' | 'ChaCha20-Poly1305';
  /** For tls.createServer. */
  options: { ciphers: string; honorCipherOrder: true };
}

export function chooseCiphers(preference: CipherPreference, hasAes: () => boolean = () => cpuHasAes()): CipherChoice {
  const aesFirst = preference === 'aes' || (preference === 'auto' && hasAes());
  const order = aesFirst ? [...AES, ...CHACHA20] : [...CHACHA20, ...AES];
  return {
    preferred: aesFirst ? 'AES-GCM' : 'ChaCha20-Poly1305',
    options: { ciphers: order.join(':'), honorCipherOrder: true },
  };
}
