// Express glue for Redfish handlers: authenticate (unless public), check the privilege, run the
// handler, and turn any RedfishError (or surprise) into a DMTF error body. The headers every
// Redfish response owes (OData-Version, Allow, Link, ETag) and the 405 for a method a resource
// lacks are added here, once for all resources.
import type { ErrorRequestHandler, NextFunction, Request, Response, RequestHandler, Router } from 'express';
import type { Logger } from '../../log.js';
import { requirePrivilege, XSRF_HEADER, type Authenticator, type Principal } from '../auth/authenticate.js';
import type { Privilege } from '../auth/users.js';
import { DaemonUnavailable } from '../daemon/client.js';
import { etagOf } from './etag.js';
import { daemonUnavailable } from './media-errors.js';
import { redfishError, RedfishError } from './messages.js';
import { jsonSchemaOf } from './schemas.js';

export type Handler = (req: Request, res: Response, principal: Principal) => Promise<void> | void;
export type PublicHandler = (req: Request, res: Response) => Promise<void> | void;

export function isStateChanging(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD';
}

/** The only OData version there is for Redfish (DSP0266 "OData-Version"). */
export const ODATA_VERSION = '4.0';

export function sendJson(res: Response, status: number, body: unknown): void {
  res.status(status).set('OData-Version', ODATA_VERSION);
  const type = (body as { '@odata.type'?: unknown } | undefined)?.['@odata.type'];
  if (typeof type === 'string') res.set('Link', `<${jsonSchemaOf(type)}>; rel=describedby`);
  if (status === 200 && !isStateChanging(res.req.method)) res.set('ETag', etagOf(body));
  res.json(body);
}

export function sendError(res: Response, err: RedfishError): void {
  for (const [k, v] of Object.entries(err.headers)) res.set(k, v);
  const { headers } = res.req;
  if (err.status === 401 && !headers['x-requested-with'] && !/\btext\/html\b/i.test(headers.accept ?? '')) {
    // API clients learn they may use Basic. The page (X-Requested-With) and browser navigations
    // (Accept: text/html) get no challenge: a dialog would have the browser cache the credentials
    // and attach them to any other site's request to this BMC.
    res.set('WWW-Authenticate', 'Basic realm="vmedia"');
  }
  sendJson(res, err.status, err.body());
}

interface ListedRoute {
  path: string | RegExp;
  /** Upper case, `*` for router.all(); undefined for a mounted router. */
  methods?: string[];
}

function listRoutes(router: Router): ListedRoute[] {
  const list = (router as Router & { listRoutes?: () => ListedRoute[] }).listRoutes;
  if (!list) throw new Error('the express router lacks listRoutes() (router >= 2.3 is required)');
  return list.call(router);
}

export class Routes {
  /** Route path (as registered) → its Allow header value, e.g. "GET, HEAD, PATCH". */
  private readonly allowed = new Map<string, string>();

  constructor(
    private readonly auth: Authenticator,
    private readonly log: Logger,
  ) {}

  /**
   * Once every resource is registered: each Redfish path answers a method it has no handler for
   * with 405 and an Allow header naming those it has, and GET/HEAD responses carry Allow too.
   */
  refuseOtherMethods(router: Router): void {
    const methods = new Map<string, Set<string>>();
    for (const route of listRoutes(router)) {
      if (typeof route.path !== 'string' || !route.path.startsWith('/redfish')) continue;
      const known = methods.get(route.path) ?? new Set<string>();
      for (const m of route.methods ?? []) if (m !== '*') known.add(m);
      methods.set(route.path, known);
    }
    for (const [path, known] of methods) {
      if (known.size === 0) continue;
      const allow = [...known].join(', ');
      this.allowed.set(path, allow);
      router.all(path, methodNotAllowed(allow));
    }
  }

  /** An authenticated route needing `privilege`. */
  guarded(privilege: Privilege, fn: Handler): RequestHandler {
    return (req, res) => {
      this.setAllow(req, res);
      const xsrf = req.get(XSRF_HEADER);
      this.run(res, async () => {
        const principal = await this.auth.authenticate(req, isStateChanging(req.method), xsrf);
        requirePrivilege(principal, privilege);
        await fn(req, res, principal);
      });
    };
  }

  /** A route anyone may call (service root, session login). */
  open(fn: PublicHandler): RequestHandler {
    return (req, res) => {
      this.setAllow(req, res);
      this.run(res, async () => fn(req, res));
    };
  }

  private setAllow(req: Request, res: Response): void {
    const path = (req.route as { path?: unknown } | undefined)?.path;
    const allow = typeof path === 'string' ? this.allowed.get(path) : undefined;
    if (allow && !isStateChanging(req.method)) res.set('Allow', allow);
  }

  private run(res: Response, body: () => Promise<void>): void {
    body().catch((err: unknown) => {
      if (err instanceof RedfishError) return sendError(res, err);
      if (err instanceof DaemonUnavailable) return sendError(res, daemonUnavailable(err));
      this.log.error({ err, url: res.req.originalUrl }, 'request failed');
      sendError(res, redfishError(500, 'InternalError'));
    });
  }
}

/**
 * Express middleware: a body that is not application/json is refused rather than parsed, so a
 * form's text/plain or urlencoded body cannot pass for JSON. No body at all is fine (sushy's
 * EjectMedia sends none).
 */
export function refuseNonJsonBody(req: Request, res: Response, next: NextFunction): void {
  const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
  if (!hasBody || req.is('application/json')) return next();
  sendError(
    res,
    redfishError(400, 'UnrecognizedRequestBody', [], {
      resolution: 'Send the request body as JSON with Content-Type: application/json.',
    }),
  );
}

/** Express middleware: a request for an OData version other than 4.0 is refused (DSP0266 "OData-Version"). */
export function refuseOtherODataVersions(req: Request, res: Response, next: NextFunction): void {
  const version = req.get('OData-Version');
  if (version === undefined || version.trim() === ODATA_VERSION) return next();
  sendError(
    res,
    redfishError(412, 'PreconditionFailed', [], {
      resolution: `This service speaks OData-Version ${ODATA_VERSION}; send that or no OData-Version header.`,
    }),
  );
}

/** Express error middleware for body-parser failures (too large, not JSON). */
export function bodyErrorHandler(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  const type = (err as { type?: string }).type;
  if (type === 'entity.too.large') return sendError(res, redfishError(413, 'PayloadTooLarge'));
  if (type === 'entity.parse.failed' || type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return sendError(res, redfishError(400, 'MalformedJSON'));
  }
  next(err);
}

/**
 * Express's last error handler: what reaches it (a URL that does not decode, a body that could
 * not be read) still gets a DMTF error body. Express's own handler would show the stack trace.
 */
export function lastErrorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    if (err instanceof URIError) {
      return sendError(
        res,
        redfishError(400, 'InvalidURI', [req.originalUrl], { resolution: 'Percent-encode the URI correctly.' }),
      );
    }
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return sendError(res, redfishError(status, 'GeneralError'));
    }
    log.error({ err, url: req.originalUrl }, 'request failed');
    sendError(res, redfishError(500, 'InternalError'));
  };
}

/** 405 for a known resource with a method it does not take. */
export function methodNotAllowed(allow: string): RequestHandler {
  return (_req, res) => sendError(res, redfishError(405, 'OperationNotAllowed').withHeader('Allow', allow));
}
