// libssh (nbdkit's ssh plugin) cannot use a SOCKS proxy, only ssh_config's ProxyCommand. This is
// an ssh_config whose ProxyCommand is a small Node program (Node is on the BMC: it runs this
// service) that opens the SSH connection through the source's relay; libssh still checks the host
// key against the URL's host name. The relay socket, host and port reach the program in its
// environment, never through the shell or libssh's %-expansion: a host name may hold `;` or `$(`.
import path from 'node:path';
import { rm, writeFile } from 'node:fs/promises';
import type { SourceContext } from '../nbdkit/source.js';
import type { SocksRelay } from './socks-relay.js';
import { startSourceRelay } from './source-relay.js';

export interface SshProxy {
  relay: SocksRelay;
  /** For nbdkit's `config=`. */
  configFile: string;
  /** For nbdkit's environment (the ProxyCommand inherits it). */
  env: Record<string, string>;
  /** Stops the relay, removes the config file. */
  close(): Promise<void>;
}

/** The slot's relay and an ssh_config that takes the connection to the URL's host and port through it. */
export async function startSshProxy(ctx: SourceContext): Promise<SshProxy> {
  const configFile = path.join(ctx.sources.stateDir, `${ctx.req.slot.name}.ssh_config`);
  const relay = await startSourceRelay(ctx);
  const close = async () => {
    await relay.close();
    await rm(configFile, { force: true });
  };
  try {
    await writeSshProxyConfig(configFile);
  } catch (err) {
    await close();
    throw err;
  }
  return { relay, configFile, env: sshProxyEnvironment(relay.socket, ctx.url.host, ctx.url.port), close };
}

const VAR = {
  node: 'VMEDIA_SSH_PROXY_NODE',
  program: 'VMEDIA_SSH_PROXY_PROGRAM',
  relay: 'VMEDIA_SSH_PROXY_RELAY',
  host: 'VMEDIA_SSH_PROXY_HOST',
  port: 'VMEDIA_SSH_PROXY_PORT',
} as const;

// CommonJS for `node -e`. Greeting and CONNECT go in one write; the answer is the 2-byte method
// choice and the relay's 10-byte CONNECT reply, then the SSH stream flows both ways on stdio.
const PROGRAM = `
const net = require("node:net");
const env = process.env;
const name = Buffer.from(env.${VAR.host});
const port = Number(env.${VAR.port});
const fail = (why) => {
  process.stderr.write("vmedia ssh proxy: " + why + "\\n");
  process.exit(1);
};
const relay = net.connect(env.${VAR.relay});
relay.on("error", (err) => fail(err.message));
relay.write(Buffer.concat([Buffer.from([5, 1, 0, 5, 1, 0, 3, name.length]), name, Buffer.from([port >> 8, port & 255])]));
let head = Buffer.alloc(0);
const handshake = (chunk) => {
  head = Buffer.concat([head, chunk]);
  if (head.length < 12) return;
  relay.off("data", handshake);
  relay.off("close", early);
  if (head[1] !== 0 || head[3] !== 0) fail("the relay refused the connection (SOCKS reply " + head[3] + ")");
  process.stdout.write(head.subarray(12));
  relay.pipe(process.stdout);
  process.stdin.pipe(relay);
  relay.on("close", () => process.stdout.end(() => process.exit(0)));
};
const early = () => fail("the relay closed the connection during the handshake");
relay.on("data", handshake);
relay.on("close", early);
process.stdout.on("error", () => process.exit(0));
`;

/** Writes the ssh_config (0600); it must exist: nbdkit ignores a missing `config=` file. */
async function writeSshProxyConfig(file: string): Promise<void> {
  // libssh runs `exec <command>` in $SHELL. The daemon's Node options and extra CAs would only
  // slow the program's start (one per SSH connection).
  const command = `env -u NODE_OPTIONS -u NODE_EXTRA_CA_CERTS "$${VAR.node}" -e "$${VAR.program}"`;
  await writeFile(file, `ProxyCommand ${command}\n`, { mode: 0o600 });
}

/** What nbdkit's environment needs for that ProxyCommand to reach `host`:`port` through `relaySocket`. */
function sshProxyEnvironment(relaySocket: string, host: string, port: number): Record<string, string> {
  return {
    [VAR.node]: process.execPath,
    [VAR.program]: PROGRAM,
    [VAR.relay]: relaySocket,
    [VAR.host]: host,
    [VAR.port]: String(port),
  };
}
