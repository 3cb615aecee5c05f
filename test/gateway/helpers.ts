// A `vmedia gateway` process for tests: its state dir, a tokens file with one token per role, its
// certificate, and a request helper with a bearer token. kill() SIGKILLs it; start it again on the
// same state dir with restart().
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { vmediaArgs } from '../helpers/daemon.js';
import { httpsJson, type HttpResponse, type RequestOptions } from '../helpers/stack.js';

export type TokenRole = 'admin' | 'operator' | 'reader';

export interface GatewayProcess {
  apiUrl: string;
  mediaUrl: string;
  ca: string;
  stateDir: string;
  tokens: Record<TokenRole, string>;
  /** The running process's pid. */
  pid(): number;
  output(): string;
  /** An API request with the role's token (or a raw token, or none). */
  api(pathname: string, opts?: RequestOptions & { as?: TokenRole | { token: string } | null }): Promise<HttpResponse>;
  /** A request with a binary body and answer (uploads, downloads). */
  raw(
    pathname: string,
    opts: { method?: string; body?: Buffer; headers?: Record<string, string>; as?: TokenRole },
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface GatewayProcessOptions {
  /** Seconds a media URL lives; default the gateway's. */
  linkTtl?: number;
  /** `--rate-limit-token`; default `0` (none: a test or benchmark polls as fast as it likes; the limit has its own test). */
  rateLimitToken?: string;
  extraArgs?: string[];
  /** More tokens in the tokens file (ask with `as: { token }`), e.g. per-image ACL principals. */
  extraTokens?: { token: string; name: string; role: TokenRole; groups?: string[] }[];
}

export async function startGatewayProcess(opts: GatewayProcessOptions = {}): Promise<GatewayProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmedia-gateway-'));
  const stateDir = path.join(dir, 'state');
  const tokens = {
    admin: randomBytes(24).toString('base64url'),
    operator: randomBytes(24).toString('base64url'),
    reader: randomBytes(24).toString('base64url'),
  };
  const tokensFile = path.join(dir, 'tokens.json');
  writeFileSync(
    tokensFile,
    JSON.stringify({
      Tokens: [
        ...Object.entries(tokens).map(([role, token]) => ({
          Name: `test-${role}`,
          Role: role,
          Sha256: createHash('sha256').update(token).digest('hex'),
        })),
        ...(opts.extraTokens ?? []).map((t) => ({
          Name: t.name,
          Role: t.role,
          Groups: t.groups ?? [],
          Sha256: createHash('sha256').update(t.token).digest('hex'),
        })),
      ],
    }),
  );
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';
  let apiUrl = '';
  let mediaUrl = '';
  let mediaPort = '0';
  let apiPort = '0';

  const launch = async () => {
    output = '';
    const proc = spawn(
      process.execPath,
      [
        ...vmediaArgs(),
        'gateway',
        '--state-dir',
        stateDir,
        '--listen',
        `127.0.0.1:${apiPort}`,
        '--media-listen',
        `127.0.0.1:${mediaPort}`,
        '--tokens',
        tokensFile,
        '--allow-local-bmcs',
        '--rate-limit-token',
        opts.rateLimitToken ?? '0',
        ...(opts.linkTtl ? ['--link-ttl', String(opts.linkTtl)] : []),
        ...(opts.extraArgs ?? []),
      ],
      { env: { ...process.env, VMEDIA_LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = proc;
    exited = new Promise((resolve) => proc.once('close', () => resolve()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const listening = new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', (d: Buffer) => {
        output += d.toString();
        const api = /API on (https:\/\/\S+)/.exec(output);
        const media = /media server on (https:\/\/\S+)/.exec(output);
        if (api && media) {
          apiUrl = api[1]!;
          mediaUrl = media[1]!;
          resolve();
        }
      });
      void exited.then(() => reject(new Error(`vmedia gateway exited before listening:\n${output}`)));
      setTimeout(() => reject(new Error(`vmedia gateway did not start within 90 s:\n${output}`)), 90_000).unref();
    });
    try {
      await listening;
    } catch (err) {
      // a gateway that did not start in time must not outlive the test
      proc.kill('SIGKILL');
      await exited;
      throw err;
    }
    // a restart keeps the ports: the BMCs hold URLs of this media server
    apiPort = new URL(apiUrl).port;
    mediaPort = new URL(mediaUrl).port;
  };
  const halt = async (signal: NodeJS.Signals) => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };

  await launch();
  const ca = readFileSync(path.join(stateDir, 'web-cert.pem'), 'utf8');
  return {
    get apiUrl() {
      return apiUrl;
    },
    get mediaUrl() {
      return mediaUrl;
    },
    ca,
    stateDir,
    tokens,
    pid: () => child!.pid!,
    output: () => output,
    api: (pathname, ro = {}) => {
      const as = ro.as === undefined ? 'admin' : ro.as;
      const token = as === null ? undefined : typeof as === 'string' ? tokens[as] : as.token;
      return httpsJson(apiUrl, ca, pathname, {
        ...ro,
        headers: { ...ro.headers, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      });
    },
    raw: (pathname, ro) =>
      new Promise((resolve, reject) => {
        const headers: Record<string, string> = { ...ro.headers, Authorization: `Bearer ${tokens[ro.as ?? 'admin']}` };
        if (ro.body) headers['Content-Length'] = String(ro.body.length);
        httpsRequest(new URL(pathname, apiUrl), { method: ro.method ?? 'GET', headers, ca }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
        })
          .on('error', reject)
          .end(ro.body);
      }),
    kill: () => halt('SIGKILL'),
    restart: launch,
    stop: async () => {
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
