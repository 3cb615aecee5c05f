// The gateway's composition root: the state dir (database, images, TLS identity), the attachment
// manager reconciled with the BMCs, the media server for the BMCs and the API for operators, each
// on its own listener.
import { once } from 'node:events';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from '../log.js';
import { loadTlsIdentity } from '../web/tls.js';
import { createApi } from './api/app.js';
import type { TokenTable } from './api/auth.js';
import { RateLimiter, type RateLimit } from './api/rate-limit.js';
import { AttachmentManager } from './attachments/manager.js';
import { ComputerSystemDriver } from './bmc-driver/computer-system.js';
import { RedfishClient } from './bmc-driver/redfish-client.js';
import { VirtualMediaDriver } from './bmc-driver/virtual-media.js';
import { openStore } from './db/open-store.js';
import { createMediaServer } from './media-server/media-server.js';
import { ServedBytes } from './media-server/served-bytes.js';
import { GeneratedImages } from './generated/generated-images.js';
import { DatabaseCatalog } from './repository/image-catalog.js';
import { ImageRepository } from './repository/image-repository.js';
import { OciStorage, parseStorageUrl } from './storage/oci-storage.js';
import { WindowScheduler } from './scheduler/scheduler.js';
import { pageRoutes } from './page/page-routes.js';
import { UploadSessions, type ResumableUploads } from './repository/upload-session.js';
import { SharedUploadSessions } from './storage/shared-upload-sessions.js';
import { ImageSources, type SourcesConfig } from './sources/image-sources.js';
import { SourceImages } from './sources/source-images.js';

export interface GatewayOptions {
  stateDir: string;
  /** A PostgreSQL connection string (no password) shared with other gateways; default SQLite in the state dir. */
  postgres?: string;
  /** oci://registry/repository: images pushed there, their metadata in the database (shared
   *  storage for the gateways on one PostgreSQL); default the state dir's images/. */
  storage?: string;
  tokens: TokenTable;
  api: { host: string; port: number };
  media: { host: string; port: number };
  /** The media server's URL as the BMCs reach it; default https://<media host>:<port>. */
  mediaBaseUrl?: string;
  cert?: string;
  key?: string;
  linkTtlMs: number;
  maxImageBytes: number;
  /** A resumable upload session not appended to for this long is removed. */
  uploadSessionTtlMs: number;
  /** Requests per token; failed authentications per source address on the API and on the media server. */
  limits: { token: RateLimit; authFailures: RateLimit; mediaFailures: RateLimit };
  /** The media server serves an attachment only to its BMC's address. */
  bindMediaToBmc: boolean;
  allowLocalBmcs: boolean;
  /** Where https:// and oci:// sources may be, their CA, registries' credentials (`--sources`). */
  sources: SourcesConfig;
  /** The page's static files, served at / without a token (docs/gateway.md, The page). */
  pageDir?: string;
  log: Logger;
}

export interface RunningGateway {
  apiUrl: string;
  mediaUrl: string;
  certPath: string;
  stop(): Promise<void>;
}

async function listen(server: Server, at: { host: string; port: number }): Promise<AddressInfo> {
  server.listen(at.port, at.host);
  await once(server, 'listening');
  return server.address() as AddressInfo;
}

/** How often the database is read for windows that open or close: their precision. */
const WINDOW_TICK_MS = 1000;

const urlOf = (a: AddressInfo) => `https://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;

export async function startGateway(o: GatewayOptions): Promise<RunningGateway> {
  mkdirSync(o.stateDir, { recursive: true, mode: 0o700 });
  const tls = await loadTlsIdentity({ cert: o.cert, key: o.key, runtimeDir: o.stateDir });
  const sharedStorage = o.storage === undefined ? undefined : parseStorageUrl(o.storage);
  const database = await openStore(o.postgres, path.join(o.stateDir, 'gateway.sqlite'), o.log);
  // the media server counts bytes in memory; every other reader of attachments sees them written
  const served = new ServedBytes(database, o.log);
  const store = served.countedBeforeReads(database);
  const sources = new ImageSources(o.sources);
  const ociStorage = sharedStorage && new OciStorage(sharedStorage, sources);
  const repository = new ImageRepository(
    path.join(o.stateDir, 'images'),
    o.maxImageBytes,
    ociStorage ? { catalog: new DatabaseCatalog(store), storage: ociStorage } : {},
  );
  await repository.refresh();
  // generated images hold their documents' secrets: a directory no image route reads
  const generated = new GeneratedImages(new ImageRepository(path.join(o.stateDir, 'generated'), o.maxImageBytes));

  const sessionOptions = { maxBytes: o.maxImageBytes, ttlMs: o.uploadSessionTtlMs, maxOpenPerOwner: 16 };
  // with shared storage a session is the registry's chunked upload, which any gateway continues
  const uploads: ResumableUploads =
    sharedStorage && ociStorage
      ? new SharedUploadSessions(
          { store, repository, storage: ociStorage, registry: sources.registry, repo: sharedStorage, log: o.log },
          sessionOptions,
        )
      : new UploadSessions(repository, sessionOptions);
  uploads.start();

  const sourceImages = new SourceImages(repository, sources);
  const mediaServer = createMediaServer({
    store,
    repository,
    generated: generated.repository,
    sourceImages,
    tls,
    log: o.log,
    bindToBmc: o.bindMediaToBmc,
    failures: new RateLimiter(o.limits.mediaFailures),
    served,
  });
  const mediaAddress = await listen(mediaServer, o.media);
  const mediaUrl = o.mediaBaseUrl ?? urlOf(mediaAddress);

  const manager = new AttachmentManager({
    store,
    repository,
    driverFor: (bmc) => new VirtualMediaDriver(new RedfishClient(bmc, { allowLocalBmcs: o.allowLocalBmcs })),
    systemFor: (bmc) => new ComputerSystemDriver(new RedfishClient(bmc, { allowLocalBmcs: o.allowLocalBmcs })),
    generated,
    mediaBaseUrl: mediaUrl,
    linkTtlMs: o.linkTtlMs,
    renewEveryMs: Math.max(1000, Math.floor(o.linkTtlMs / 3)),
    attempts: 3,
    backoffMs: 1000,
    log: o.log,
  });
  await manager.start();
  const scheduler = new WindowScheduler({
    store,
    actions: manager,
    periodMs: WINDOW_TICK_MS,
    afterTick: () => generated.prune(store),
    log: o.log,
  });
  scheduler.start();

  if (o.pageDir && !existsSync(path.join(o.pageDir, 'index.html')))
    o.log.warn({ pageDir: o.pageDir }, 'the page is not built (scripts/build-gateway-page.sh): / answers 401');
  const api = createServer(
    { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' },
    createApi({
      tokens: o.tokens,
      repository,
      store,
      manager,
      uploads,
      sourceImages,
      limits: o.limits,
      ...(o.pageDir ? { page: pageRoutes(o.pageDir) } : {}),
      log: o.log,
    }),
  );
  // uploads of large images take long: no request timeout, but a stalled header still ends
  api.requestTimeout = 0;
  const apiAddress = await listen(api, o.api);

  return {
    apiUrl: urlOf(apiAddress),
    mediaUrl,
    certPath: tls.certPath,
    stop: async () => {
      api.close();
      mediaServer.close();
      api.closeAllConnections();
      mediaServer.closeAllConnections();
      uploads.stop();
      await scheduler.stop();
      await manager.stop();
      await served.stop();
      await store.close();
    },
  };
}
