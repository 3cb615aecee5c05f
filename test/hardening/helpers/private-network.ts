// Attacks on the SSRF guard need addresses and DNS answers the host must not see: a scenario runs
// as its own node:test file in a private network and mount namespace (`unshare -n -m`, as root).
// Inside, lo is up, EXTERNAL_NET is routed to lo without being an interface address (so it
// counts as a remote host, not one of "this BMC's" addresses), and /etc/resolv.conf names the
// scenario's DNS server on 127.0.0.1.
import { execFileSync, spawn } from 'node:child_process';
import { readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** A documentation prefix (RFC 5737) that plays the Internet inside the namespace. */
export const EXTERNAL_NET = '198.51.100.0/24';
export const EXTERNAL_HOST = '198.51.100.7';
/** The outer network namespace, so that the scenario can tell it is not in it. */
const HOST_NETNS = 'VMEDIA_TEST_HOST_NETNS';

/** Why scenarios cannot run here, or undefined when they can. */
export function privateNetworkUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (unshare -n -m)';
  try {
    execFileSync('unshare', ['--net', '--mount', 'true'], { stdio: 'ignore' });
  } catch {
    return 'unshare --net --mount does not work here';
  }
  return undefined;
}

/** Runs `scenario` (a node:test file) in a fresh network and mount namespace; resolves with its exit code and output. */
export function runInPrivateNetwork(scenario: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      'unshare',
      [
        '--net',
        '--mount',
        '--propagation',
        'private',
        '--',
        process.execPath,
        '--import',
        'tsx',
        '--test',
        '--test-reporter=spec',
        scenario,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        // without NODE_TEST_CONTEXT the scenario is a test run of its own, with its own exit code
        env: { ...process.env, NODE_TEST_CONTEXT: undefined, [HOST_NETNS]: readlinkSync('/proc/self/ns/net') },
      },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** Inside the namespace: lo up, EXTERNAL_NET routed to it, DNS from 127.0.0.1. Refuses to touch the host's network. */
export function setUpPrivateNetwork(dir: string): void {
  const host = process.env[HOST_NETNS];
  if (host === undefined || readlinkSync('/proc/self/ns/net') === host) {
    throw new Error('not in a private network namespace: run this scenario through runInPrivateNetwork');
  }
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  execFileSync('ip', ['route', 'add', 'local', EXTERNAL_NET, 'dev', 'lo']);
  const resolvConf = path.join(dir, 'resolv.conf');
  writeFileSync(resolvConf, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');
  execFileSync('mount', ['--bind', resolvConf, '/etc/resolv.conf']);
}
