// The whole service as the reliability tests drive it: the test stack (private bus, daemon with the
// export backend, web) started with an inspector in both Node processes (forced GC, heap), an
// HTTPS image server with basic auth whose CA the daemon trusts, and a D-Bus client for the
// Completion signals. The image password and the presigned-style `?token=` carry per-run markers
// so that the secrets test can look for them everywhere; every HTTP response is kept for it too.
import { randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BusClient } from '../../daemon/bus-client.js';
import { startStack, type HttpResponse, type RequestOptions, type Stack, type StackSlot } from '../../helpers/stack.js';
import { waitFor } from '../../helpers/wait.js';
import { startImageServer, type ImageServer } from '../../sources/helpers/image-server.js';
import { legacyClient, type LegacyClient } from '../../sources/helpers/legacy-client.js';
import { randomImage } from '../../sources/helpers/provider.js';
import { createTestCa } from '../../sources/helpers/test-ca.js';
import { attachInspector, INSPECT_OPTION, type Inspector } from './inspector.js';

/** Small enough to read whole every cycle (nbdcopy through the whole chain). */
export const IMAGE_MIB = 1;
export const IMAGE_PATH = '/images/boot.iso';
export const VIRTUAL_MEDIA = '/redfish/v1/Managers/bmc/VirtualMedia';

export interface Secrets {
  imageUser: string;
  /** The image server's password: sent only through Redfish UserName/Password or a credentials pipe. */
  password: string;
  /** The presigned URL's token (query string). */
  token: string;
}

export interface Fixture {
  stack: Stack;
  bus: BusClient;
  imageServer: ImageServer;
  image: { file: string; sha: string; bytes: number };
  secrets: Secrets;
  /** https://127.0.0.1:PORT/images/boot.iso?token=... */
  imageUrl: string;
  /** The daemon's and the web's runtime dirs: what must be as it was after every cycle. */
  runtimeDirs: string[];
  daemon: Inspector;
  web: Inspector;
  slot(name: string): StackSlot;
  /** A D-Bus Legacy client of one slot (python3-dbus for credentials pipes, busctl, Completion). */
  legacy(name: string): Promise<LegacyClient>;
  /** stack.request, every response kept in `responses`. */
  request(pathname: string, opts?: RequestOptions): Promise<HttpResponse>;
  responses: HttpResponse[];
  close(): Promise<void>;
}

export interface FixtureOptions {
  /** Per-slot Timeout (s); the Completion timer fires at Timeout + 5 s. Default 10. */
  slotTimeout?: number;
  /** Extra top-level daemon config keys (e.g. Sources). */
  daemonConfig?: Record<string, unknown>;
}

export async function startFixture(opts: FixtureOptions = {}): Promise<Fixture> {
  const marker = randomBytes(6).toString('hex');
  const secrets: Secrets = {
    imageUser: 'imageuser',
    password: `pw-MARKER-${marker}`,
    token: `tok-MARKER-${marker}`,
  };
  const cleanups: (() => Promise<void> | void)[] = [];
  const closeAll = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    const stack = await startStackWithInspectors(opts);
    cleanups.push(() => stack.stop());
    const dir = path.join(stack.dir, 'reliability');
    const ca = createTestCa(path.join(dir, 'ca'));
    const file = path.join(dir, 'boot.iso');
    const sha = await randomImage(file, IMAGE_MIB);
    const imageServer = await startImageServer({
      files: new Map([[IMAGE_PATH, file]]),
      tls: { key: ca.serverKey, cert: ca.serverCert },
      switches: { auth: { user: secrets.imageUser, password: secrets.password } },
    });
    cleanups.push(() => imageServer.close());
    await trustCa(stack, ca.caPem);
    // the web loads Express and the Redfish resources on its first request (src/web/app.ts): "at
    // rest" is after that, or the modules it loads (and under tsx, tsx's esbuild service child
    // with its pipes) would count as left over by the first test
    const warmUp = await stack.request('/redfish/v1/Managers', { auth: stack.admin });
    if (warmUp.status !== 200) throw new Error(`the web's first Redfish request answered ${warmUp.status}`);

    const bus = await BusClient.connect(stack.busAddress);
    cleanups.push(() => bus.close());
    const daemon = await attachInspector('daemon', () => stack.daemon.output());
    cleanups.push(() => daemon.close());
    const web = await attachInspector('web', () => stack.webOutput());
    cleanups.push(() => web.close());

    const legacyClients = new Map<string, LegacyClient>();
    cleanups.push(() => legacyClients.forEach((c) => c.close()));
    const responses: HttpResponse[] = [];
    return {
      stack,
      bus,
      imageServer,
      image: { file, sha, bytes: IMAGE_MIB * 1024 * 1024 },
      secrets,
      imageUrl: `${imageServer.origin}${IMAGE_PATH}?token=${secrets.token}&expires=1999999999`,
      runtimeDirs: [path.join(stack.dir, 'run'), path.join(stack.dir, 'web')],
      daemon,
      web,
      slot: (name) => {
        const s = stack.slots.find((x) => x.name === name);
        if (!s) throw new Error(`no slot ${name}`);
        return s;
      },
      async legacy(name) {
        let c = legacyClients.get(name);
        if (!c) {
          c = await legacyClient(stack.busAddress, name);
          legacyClients.set(name, c);
        }
        return c;
      },
      async request(pathname, ro) {
        const res = await stack.request(pathname, ro);
        responses.push(res);
        return res;
      },
      responses,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** The daemon and the web inherit NODE_OPTIONS from us at spawn; nothing else we start is Node. */
async function startStackWithInspectors(opts: FixtureOptions): Promise<Stack> {
  const saved = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = [saved, INSPECT_OPTION].filter(Boolean).join(' ');
  try {
    return await startStack(opts);
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  }
}

/** Puts the CA into the TrustStore and waits until the daemon's capath copy has it. */
async function trustCa(stack: Stack, pem: string): Promise<void> {
  writeFileSync(path.join(stack.trustStore, 'reliability-ca.pem'), pem);
  const capath = path.join(stack.dir, 'run', 'sources', 'capath', 'current');
  await waitFor('the daemon to copy the test CA into its capath', () => readdirSync(capath).length > 0, {
    timeoutMs: 10_000,
  });
}
