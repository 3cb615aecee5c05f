// Runs test/e2e/ironic-e2e-client.py (sushy from Debian, unmodified) against a stack: one phase
// of Ironic's virtual-media deploy per call, its JSON step lines back.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Stack } from '../../helpers/stack.js';

const CLIENT = fileURLToPath(new URL('../ironic-e2e-client.py', import.meta.url));

export type IronicStep = Record<string, unknown> & { step: string };

/** Resolves with the client's step lines; rejects with its output when it fails. */
export function ironic(stack: Stack, phase: string, ...args: string[]): Promise<IronicStep[]> {
  return new Promise((resolve, reject) => {
    // the web's CA goes to sushy as verify=; no bundle from the environment may replace it
    const { REQUESTS_CA_BUNDLE: _requests, CURL_CA_BUNDLE: _curl, ...inherited } = process.env;
    const child = spawn(
      '/usr/bin/python3',
      [CLIENT, stack.baseUrl, stack.operator.user, stack.caPath, phase, ...args],
      { env: { ...inherited, PYTHONWARNINGS: 'ignore' }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdin.end(`${stack.operator.password}\n`);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`ironic client (${phase}) exited ${code}:\n${err}\n${out}`));
      resolve(
        out
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as IronicStep),
      );
    });
  });
}
