// The whole service for integration tests, as `npm start` runs it: a private bus, the daemon
// (export backend: 2 Proxy + 2 Legacy slots, each re-served on an ExportSocket) and `vmedia web`
// on a free port, all in one temp dir. Known users (admin, operator, read-only), the HTTPS
// certificate to trust, and a small HTTPS client that trusts it. Both processes run the bundle
// when VMEDIA_TEST_ENTRY names one (test/helpers/daemon.ts).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest, type Agent } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hashPassword } from '../../src/web/auth/passwords.js';
import { startDaemon, vmediaArgs, type RunningDaemon } from './daemon.js';
import { startTestBus, type TestBus } from './private-bus.js';
import { webListening } from './web-listening.js';

export interface Credentials {
  user: string;
  password: string;
}

export interface StackSlot {
  name: string;
  mode: 'Proxy' | 'Legacy';
  /** "/nbd/0" for Proxy slots, "" for Legacy. */
  endpoint: string;
  /** The slot's NBD socket (the bridge listens here for Proxy slots). */
  socket: string;
  /** Where the daemon re-serves the mounted image: `nbdcopy nbd+unix:///?socket=<this> -`. */
  exportSocket: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON (undefined when empty or not JSON). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests check its shape with assertions
  json: any;
}

export interface RequestOptions {
  method?: string;
  /** Basic auth with these credentials. */
  auth?: Credentials;
  headers?: Record<string, string>;
  /** Sent as JSON unless a string (sent as is). */
  body?: unknown;
  /** The client's source address (any of 127.0.0.0/8); default the system's choice. */
  from?: string;
  /** E.g. a keep-alive agent, so a measurement does not include a TLS handshake. */
  agent?: Agent;
}

export interface Stack {
  /** https://127.0.0.1:PORT */
  baseUrl: string;
  port: number;
  admin: Credentials;
  operator: Credentials;
  readOnly: Credentials;
  slots: StackSlot[];
  /** PEM of the web's self-signed certificate (trust it as the CA), and its path. */
  ca: string;
  caPath: string;
  /** The TrustStore directory (Redfish Truststore writes here; the daemon's sources read it). */
  trustStore: string;
  busAddress: string;
  dir: string;
  webPid: number;
  daemon: RunningDaemon;
  /** Everything the web process wrote so far (JSON log lines and its banner). */
  webOutput(): string;
  request(pathname: string, opts?: RequestOptions): Promise<HttpResponse>;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Per-slot Timeout (s): short keeps failure tests fast. Default 10. */
  slotTimeout?: number;
  /** Extra top-level daemon config keys (e.g. Sources). */
  daemonConfig?: Record<string, unknown>;
  /** Extra environment for the web process. */
  webEnv?: Record<string, string>;
  /** Slot name → its MediaType (the config's default, USBStick, for the others). */
  mediaTypes?: Partial<Record<string, 'CD' | 'USBStick'>>;
  /** How long the daemon and the web each get to start (default 20 s; many stacks at once need more). */
  startTimeoutMs?: number;
  /** A users file made once (stackUsers) for many stacks: hashing three passwords costs each stack 0.7 CPU-s. */
  users?: StackUsers;
}

export interface StackUsers {
  admin: Credentials;
  operator: Credentials;
  readOnly: Credentials;
  /** The web's users file holding their hashes. */
  file: string;
}

/** An admin, an operator and a read-only user with random passwords, in a users file at `file`. */
export async function stackUsers(file: string): Promise<StackUsers> {
  const users = {
    admin: { user: 'root', password: randomBytes(12).toString('base64url') },
    operator: { user: 'operator', password: randomBytes(12).toString('base64url') },
    readOnly: { user: 'reader', password: randomBytes(12).toString('base64url') },
  };
  writeFileSync(
    file,
    JSON.stringify({
      Users: {
        [users.admin.user]: { Role: 'Administrator', PasswordHash: await hashPassword(users.admin.password) },
        [users.operator.user]: { Role: 'Operator', PasswordHash: await hashPassword(users.operator.password) },
        [users.readOnly.user]: { Role: 'ReadOnly', PasswordHash: await hashPassword(users.readOnly.password) },
      },
    }),
    { mode: 0o600 },
  );
  return { ...users, file };
}

const SLOTS: { name: string; mode: 0 | 1; endpoint: string }[] = [
  { name: 'Slot_0', mode: 0, endpoint: '/nbd/0' },
  { name: 'Slot_1', mode: 0, endpoint: '/nbd/1' },
  { name: 'Slot_2', mode: 1, endpoint: '' },
  { name: 'Slot_3', mode: 1, endpoint: '' },
];

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-stack-'));
  const runtimeDir = path.join(dir, 'run');
  const trustStore = path.join(dir, 'truststore');
  mkdirSync(path.join(runtimeDir, 'export'), { recursive: true });
  mkdirSync(trustStore, { recursive: true });
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await c();
  };

  try {
    const bus: TestBus = await startTestBus();
    cleanups.push(() => bus.stop());

    const slots: StackSlot[] = SLOTS.map((s, i) => ({
      name: s.name,
      mode: s.mode === 0 ? 'Proxy' : 'Legacy',
      endpoint: s.endpoint,
      socket: path.join(runtimeDir, `nbd${i}.sock`),
      exportSocket: path.join(runtimeDir, 'export', `${s.name}.sock`),
    }));
    const config = {
      InactivityTimeout: 0,
      HostBackend: 'export',
      AllowPrivateSourceHosts: true,
      TrustStore: trustStore,
      RuntimeDir: runtimeDir,
      ...opts.daemonConfig,
      MountPoints: Object.fromEntries(
        SLOTS.map((s, i) => [
          s.name,
          {
            EndpointId: s.endpoint,
            Mode: s.mode,
            NBDDevice: `nbd${i}`,
            UnixSocket: slots[i]!.socket,
            ExportSocket: slots[i]!.exportSocket,
            Timeout: opts.slotTimeout ?? 10,
            ...(opts.mediaTypes?.[s.name] ? { MediaType: opts.mediaTypes[s.name] } : {}),
          },
        ]),
      ),
    };
    const startTimeoutMs = opts.startTimeoutMs ?? 20_000;
    const daemon = await startDaemon({ config, busAddress: bus.address, startTimeoutMs });
    cleanups.push(() => daemon.stop());

    const { file: usersFile, ...users } = opts.users ?? (await stackUsers(path.join(dir, 'users.json')));

    const web = spawn(
      process.execPath,
      [
        ...vmediaArgs(),
        'web',
        '--bus',
        bus.address,
        '--listen',
        '127.0.0.1:0',
        '--users',
        usersFile,
        '--truststore',
        trustStore,
        '--runtime-dir',
        path.join(dir, 'web'),
      ],
      {
        env: { ...process.env, VMEDIA_LOG_FORMAT: 'json', ...opts.webEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const listening = await webListening(web, startTimeoutMs);
    cleanups.push(listening.stop);
    const { baseUrl } = listening;
    const caPath = path.join(dir, 'web', 'web-cert.pem');
    const ca = readFileSync(caPath, 'utf8');
    const port = Number(new URL(baseUrl).port);

    const request = (pathname: string, ro: RequestOptions = {}) => httpsJson(baseUrl, ca, pathname, ro);
    return {
      baseUrl,
      port,
      ...users,
      slots,
      ca,
      caPath,
      trustStore,
      busAddress: bus.address,
      dir,
      webPid: web.pid!,
      daemon,
      webOutput: listening.output,
      request,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** One HTTPS request to `baseUrl` trusting `ca`; the body is parsed as JSON when it is JSON. */
export function httpsJson(baseUrl: string, ca: string, pathname: string, opts: RequestOptions): Promise<HttpResponse> {
  const body =
    opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.auth)
    headers.Authorization = `Basic ${Buffer.from(`${opts.auth.user}:${opts.auth.password}`).toString('base64')}`;
  if (body !== undefined) {
    headers['Content-Type'] ??= 'application/json';
    headers['Content-Length'] = String(Buffer.byteLength(body));
  }
  return new Promise((resolve, reject) => {
    const options = {
      method: opts.method ?? 'GET',
      headers,
      ca,
      ...(opts.from ? { localAddress: opts.from } : {}),
      ...(opts.agent ? { agent: opts.agent } : {}),
    };
    const req = httpsRequest(new URL(pathname, baseUrl), options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
