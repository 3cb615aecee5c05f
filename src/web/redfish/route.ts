// Express glue for Redfish handlers: authenticate (unless public), check the privilege, run the
// handler, and turn any RedfishError (or surprise) into a DMTF error body.
import type { ErrorRequestHandler, NextFunction, Request, Response, RequestHandler } from 'express';
import type { Logger } from '../../log.js';
import { requirePrivilege, XSRF_HEADER, type Authenticator, type Principal } from '../auth/authenticate.js';
import type { Privilege } from '../auth/users.js';
import { DaemonUnavailable } from '../daemon/client.js';
import { daemonUnavailable } from './media-errors.js';
import { redfishError, RedfishError } from './messages.js';

export type Handler = (req: Request, res: Response, principal: Principal) => Promise<void> | void;
export type PublicHandler = (req: Request, res: Response) => Promise<void> | void;

export function isStateChanging(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD';
}

export function sendJson(res: Response, status: number, body: unknown): void {
  res.status(status).set('OData-Version', '4.0').json(body);
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

export class Routes {
  constructor(
    private readonly auth: Authenticator,
    private readonly log: Logger,
  ) {}

  /** An authenticated route needing `privilege`. */
  guarded(privilege: Privilege, fn: Handler): RequestHandler {
    return (req, res) => {
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
    return (req, res) => this.run(res, async () => fn(req, res));
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
