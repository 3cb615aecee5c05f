// The Express app of `vmedia web`: Redfish, the cookie login and the page's static files. Loaded
// on the first HTTP request (server.ts), not at start: Express and the Redfish resources are a
// third of an idle web's memory, and a BMC's web may only ever serve the bridge, or nothing.
import express, { type Express } from 'express';
import type { Logger } from '../log.js';
import type { ProcessRunner } from '../process/runner.js';
import type { Authenticator } from './auth/authenticate.js';
import { registerCookieLogin } from './auth/cookie-login.js';
import type { UserSource } from './auth/users.js';
import type { WebContext } from './context.js';
import type { DaemonClient } from './daemon/client.js';
import { registerAccountService } from './redfish/account-service.js';
import { registerCertificates } from './redfish/certificates.js';
import { registerManagers } from './redfish/managers.js';
import { registerMediaActions } from './redfish/media-actions.js';
import { generatedMediaBodyParser, registerGeneratedMedia } from './redfish/generated-media.js';
import { redfishError } from './redfish/messages.js';
import { registerMetadata } from './redfish/metadata.js';
import { registerODataServiceDocument } from './redfish/odata.js';
import {
  bodyErrorHandler,
  lastErrorHandler,
  refuseNonJsonBody,
  refuseOtherODataVersions,
  Routes,
  sendError,
} from './redfish/route.js';
import { registerServiceRoot } from './redfish/service-root.js';
import { registerSessionService } from './redfish/session-service.js';
import { registerSystems } from './redfish/systems.js';
import { registerVirtualMedia } from './redfish/virtual-media.js';
import { refuseCrossSiteChanges } from './origin.js';
import { pageSecurityPolicy } from './page-policy.js';
import { TrustStoreDir } from './trust-store-dir.js';

export interface AppOptions {
  auth: Authenticator;
  users: UserSource;
  daemon: DaemonClient;
  runtimeDir: string;
  runner: ProcessRunner;
  log: Logger;
  trustStore?: string;
  /** The page's directory (it exists), served at /. */
  staticDir?: string;
  bodyLimitBytes?: number;
}

export function createApp(o: AppOptions): Express {
  const { auth, users, daemon, runner, log } = o;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use((_req, res, next) => {
    res.set({
      'Strict-Transport-Security': 'max-age=31536000',
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Cache-Control': 'no-store',
    });
    next();
  });
  app.use(refuseCrossSiteChanges);
  app.use('/redfish', refuseOtherODataVersions);
  app.use(refuseNonJsonBody);
  app.use(generatedMediaBodyParser());
  app.use(express.json({ limit: o.bodyLimitBytes ?? 64 * 1024 }));
  app.use(bodyErrorHandler);

  const router = express.Router();
  const ctx: WebContext = {
    router,
    routes: new Routes(auth, log),
    auth,
    users,
    daemon,
    runtimeDir: o.runtimeDir,
    runner,
    log,
    ...(o.trustStore ? { trustStore: new TrustStoreDir(o.trustStore) } : {}),
  };
  for (const register of [
    registerServiceRoot,
    registerMetadata,
    registerODataServiceDocument,
    registerSessionService,
    registerAccountService,
    registerCookieLogin,
    registerManagers,
    registerSystems,
    registerVirtualMedia,
    registerMediaActions,
    registerGeneratedMedia,
    registerCertificates,
  ]) {
    register(ctx);
  }
  ctx.routes.refuseOtherMethods(router);
  app.use(router);
  app.use('/redfish', (req, res) => sendError(res, redfishError(404, 'InvalidURI', [req.originalUrl])));
  if (o.staticDir) {
    app.use(
      express.static(o.staticDir, {
        index: 'index.html',
        setHeaders: (res) => res.set('Content-Security-Policy', pageSecurityPolicy(res.req.headers.host)),
      }),
    );
  }

  app.use(lastErrorHandler(log));
  return app;
}
