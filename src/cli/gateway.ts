// `vmedia gateway`: the bastion between operators and BMCs — image repository, attachment
// manager, media server, BMC driver and API (docs/gateway.md). Prints both URLs and where the
// admin token is when no tokens file is given (never a token).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';
import { adminTokenFile, loadTokens } from '../gateway/api/auth.js';
import { DEFAULT_LIMITS, formatRateLimit, parseRateLimit } from '../gateway/api/rate-limit.js';
import { startGateway, type RunningGateway } from '../gateway/compose.js';
import { loadSourcesConfig } from '../gateway/sources/config.js';
import { PAGE_DIR_IN_CHECKOUT } from '../gateway/page/page-routes.js';
import { createLogger } from '../log.js';
import { parseListen } from './web.js';
import { stopOnSignal } from './stop-on-signal.js';

// the checkout's root, or the bundle's (dist/cli/ is two levels below it as src/cli/ is)
const CHECKOUT = fileURLToPath(new URL('../../', import.meta.url));

interface GatewayArgs {
  'state-dir': string;
  postgres?: string;
  storage?: string;
  listen: string;
  'media-listen': string;
  'media-url'?: string;
  tokens?: string;
  cert?: string;
  key?: string;
  'link-ttl': number;
  'max-image-mib': number;
  'upload-session-ttl': number;
  'rate-limit-token': string;
  'rate-limit-auth-failures': string;
  'rate-limit-media-failures': string;
  'bind-media-to-bmc': boolean;
  'allow-local-bmcs': boolean;
  sources?: string;
  page: string;
}

function rateLimitArg(args: GatewayArgs, key: `rate-limit-${string}` & keyof GatewayArgs) {
  try {
    return parseRateLimit(String(args[key]));
  } catch (err) {
    throw new Error(`--${key}: ${(err as Error).message}`);
  }
}

async function runGateway(args: GatewayArgs): Promise<void> {
  const log = createLogger('vmedia-gateway');
  const stateDir = path.resolve(args['state-dir']);
  let gateway: RunningGateway;
  try {
    if (!(args['link-ttl'] >= 10)) throw new Error('--link-ttl: at least 10 seconds');
    if (!(args['upload-session-ttl'] >= 1)) throw new Error('--upload-session-ttl: at least 1 second');
    const limits = {
      token: rateLimitArg(args, 'rate-limit-token'),
      authFailures: rateLimitArg(args, 'rate-limit-auth-failures'),
      mediaFailures: rateLimitArg(args, 'rate-limit-media-failures'),
    };
    const tokens = args.tokens ? loadTokens(args.tokens) : undefined;
    gateway = await startGateway({
      stateDir,
      ...(args.postgres ? { postgres: args.postgres } : {}),
      ...(args.storage ? { storage: args.storage } : {}),
      tokens: tokens ?? adminTokenFile(path.join(stateDir, 'admin-token')),
      api: parseListen(args.listen),
      media: parseListen(args['media-listen']),
      ...(args['media-url'] ? { mediaBaseUrl: args['media-url'] } : {}),
      ...(args.cert ? { cert: args.cert } : {}),
      ...(args.key ? { key: args.key } : {}),
      linkTtlMs: args['link-ttl'] * 1000,
      maxImageBytes: args['max-image-mib'] * 1024 * 1024,
      uploadSessionTtlMs: args['upload-session-ttl'] * 1000,
      limits,
      bindMediaToBmc: args['bind-media-to-bmc'],
      allowLocalBmcs: args['allow-local-bmcs'],
      sources: args.sources ? loadSourcesConfig(args.sources) : {},
      ...(args.page ? { pageDir: path.resolve(args.page) } : {}),
      log,
    });
    if (!tokens) process.stdout.write(`  admin token in ${path.join(stateDir, 'admin-token')}\n`);
  } catch (err) {
    process.stderr.write(`vmedia gateway: ${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(
    `vmedia gateway API on ${gateway.apiUrl}\n  media server on ${gateway.mediaUrl}\n  certificate: ${gateway.certPath}\n`,
  );
  stopOnSignal(() => gateway.stop(), log);
}

export const gatewayCommand: CommandModule<object, GatewayArgs> = {
  command: 'gateway',
  describe: 'host images and attach them to many BMCs (Ironic vmedia API, media server)',
  builder: (y) =>
    y
      .option('state-dir', { type: 'string', default: 'gateway', describe: 'database, images, TLS identity' })
      .option('postgres', {
        type: 'string',
        describe: 'PostgreSQL connection string shared by several gateways (password in PGPASSWORD or ~/.pgpass)',
      })
      .option('storage', {
        type: 'string',
        describe:
          'oci://REGISTRY/REPOSITORY: images pushed there, their metadata in the database (shared by the gateways on one --postgres); default: the state dir',
      })
      .option('listen', { type: 'string', default: '127.0.0.1:9443', describe: 'the API: HOST:PORT (0 picks a port)' })
      .option('media-listen', { type: 'string', default: '127.0.0.1:9444', describe: 'the media server for the BMCs' })
      .option('media-url', { type: 'string', describe: 'https://HOST:PORT the BMCs reach the media server at' })
      .option('tokens', { type: 'string', describe: 'tokens file (names, roles, sha256); default: one admin token' })
      .option('cert', { type: 'string', describe: 'TLS certificate (PEM); default: self-signed in the state dir' })
      .option('key', { type: 'string', describe: 'TLS private key (PEM), with --cert' })
      .option('link-ttl', { type: 'number', default: 3600, describe: 'seconds a media URL lives unless renewed' })
      .option('max-image-mib', { type: 'number', default: 65536, describe: 'largest image an upload may be' })
      .option('upload-session-ttl', {
        type: 'number',
        default: 86400,
        describe: 'seconds a resumable upload session lives after its last piece',
      })
      .option('rate-limit-token', {
        type: 'string',
        default: formatRateLimit(DEFAULT_LIMITS.token),
        describe: 'API requests per token: RATE/BURST (per second/at once); 0: no limit',
      })
      .option('rate-limit-auth-failures', {
        type: 'string',
        default: formatRateLimit(DEFAULT_LIMITS.authFailures),
        describe: 'failed API authentications per source address: RATE/BURST; 0: no limit',
      })
      .option('rate-limit-media-failures', {
        type: 'string',
        default: formatRateLimit(DEFAULT_LIMITS.mediaFailures),
        describe: 'failed media server accesses per source address: RATE/BURST; 0: no limit',
      })
      .option('bind-media-to-bmc', {
        type: 'boolean',
        default: true,
        describe: "serve a media URL only to its BMC's address (--no-bind-media-to-bmc when BMCs reach it through NAT)",
      })
      .option('allow-local-bmcs', {
        type: 'boolean',
        default: false,
        describe: 'let BMC URLs point at loopback or link-local addresses (development, tests)',
      })
      .option('sources', {
        type: 'string',
        describe: 'sources file: hosts https:// and oci:// sources may be on, their CA, registry credentials',
      })
      .option('page', {
        type: 'string',
        default: path.join(CHECKOUT, PAGE_DIR_IN_CHECKOUT),
        describe: "the page's directory (scripts/build-gateway-page.sh), served at /; '' serves none",
      }),
  handler: (args) => runGateway(args),
};
