// The API: Ironic's node vmedia routes and the native /api routes, all behind bearer tokens.
// Errors are JSON: {"error":{"code","message"}} (Ironic's routes answer in Ironic's form).
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from '../../log.js';
import type { AttachmentManager } from '../attachments/manager.js';
import type { GatewayStore } from '../db/store.js';
import { GatewayError } from '../errors.js';
import type { ImageRepository } from '../repository/image-repository.js';
import type { SourceImages } from '../sources/source-images.js';
import { attachmentRoutes } from './attachments.js';
import { aclRoutes } from './acl.js';
import { authenticate, caller, type TokenTable } from './auth.js';
import { bmcRoutes } from './bmcs.js';
import { imageRoutes } from './images.js';
import { ironicErrors, ironicRoutes } from './ironic.js';
import { metricsRoutes } from './metrics.js';
import { limitPerToken, RateLimiter, type RateLimit } from './rate-limit.js';
import { uploadRoutes } from './uploads.js';
import type { ResumableUploads } from '../repository/upload-session.js';

export interface ApiOptions {
  tokens: TokenTable;
  repository: ImageRepository;
  store: GatewayStore;
  manager: AttachmentManager;
  uploads: ResumableUploads;
  /** Images registered from https:// and oci:// sources, and what to serve for any image. */
  sourceImages: SourceImages;
  /** Requests per token, failed authentications per source address. */
  limits: { token: RateLimit; authFailures: RateLimit };
  /** The page, served ahead of the token check (its files hold no data). */
  page?: Router;
  log: Logger;
}

export function createApi(o: ApiOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (o.page) app.use(o.page);
  app.use(authenticate(o.tokens, new RateLimiter(o.limits.authFailures)));
  app.use(limitPerToken(new RateLimiter(o.limits.token), (res) => caller(res).name));
  // images' metadata read again (shared storage: what another gateway uploaded, granted or deleted
  // is seen once it answered; a no-op for the state dir's files), after the token and its rate
  // limit, so that neither the page's files nor a request without a valid token cost a read
  app.use((_req, _res, next) => {
    o.repository.refresh().then(
      () => next(),
      (err: unknown) => {
        o.log.error({ err: (err as Error).message }, 'reading the images from the database failed');
        next(new GatewayError(503, 'Unavailable', 'the database is out of reach'));
      },
    );
  });
  app.use('/v1', ironicRoutes(o.manager, o.store, o.repository, o.sourceImages), ironicErrors);
  app.use(aclRoutes(o.repository, o.store));
  app.use(imageRoutes(o.repository, o.store, o.sourceImages));
  app.use(uploadRoutes(o.uploads, o.store));
  app.use(bmcRoutes(o.store));
  app.use(attachmentRoutes(o.manager, o.store, o.repository));
  app.use(metricsRoutes(o.store, () => o.manager.operationDurations()));
  app.use(() => {
    throw new GatewayError(404, 'NotFound', 'no such route');
  });
  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    const e = err as { status?: number; type?: string; message?: string };
    if (err instanceof GatewayError) {
      res.status(err.status).json({ error: { code: err.code, message: err.message } });
    } else if (e.type === 'entity.parse.failed' || e.type === 'entity.too.large') {
      res.status(e.status ?? 400).json({ error: { code: 'BadRequest', message: `request body: ${e.message}` } });
    } else {
      o.log.error({ err: e.message }, 'API request failed');
      res.status(500).json({ error: { code: 'InternalError', message: 'internal error (see the gateway log)' } });
    }
  });
  return app;
}
