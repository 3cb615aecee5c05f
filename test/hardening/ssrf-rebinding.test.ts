// DNS rebinding, redirects and proxy variables against the SSRF guard (AllowPrivateSourceHosts
// off), for http(s), ftp and sftp sources: scenarios/ssrf-network.scenario.ts, run in a private
// network namespace with its own DNS server (helpers/private-network.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { privateNetworkUnavailable, runInPrivateNetwork } from './helpers/private-network.js';

const SCENARIO = fileURLToPath(new URL('./scenarios/ssrf-network.scenario.ts', import.meta.url));

test(
  'every connection of a guarded source reaches a checked address (in a private network namespace)',
  { timeout: 120_000 },
  async () => {
    // root and unshare, as in CI and on a BMC: a test that cannot run fails, it never skips
    assert.equal(privateNetworkUnavailable(), undefined);
    const { code, output } = await runInPrivateNetwork(SCENARIO);
    assert.equal(code, 0, output);
  },
);
