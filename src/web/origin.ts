// Browsers send Origin with every cross-site POST and WebSocket upgrade, and would attach what
// they hold for this server (cached Basic credentials, cookies) to it. A state change or an upgrade
// whose Origin is not this server, as the client addressed it (Host), is refused. Requests without
// Origin come from non-browser clients (curl, sushy, scripts) and are not concerned.
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { redfishError, type RedfishError } from './redfish/messages.js';
import { isStateChanging, sendError } from './redfish/route.js';

/** True when the request carries an Origin other than https://<its Host>; "null" is another site too. */
export function fromOtherSite(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  try {
    const from = new URL(origin);
    return from.protocol !== 'https:' || from.host !== new URL(`https://${req.headers.host ?? ''}`).host;
  } catch {
    return true;
  }
}

export function crossSiteRefused(): RedfishError {
  return redfishError(403, 'InsufficientPrivilege', [], {
    resolution:
      'Requests from pages of another site are refused: use this BMC’s own page, or a client that sends no Origin.',
  });
}

/** Express middleware: state-changing requests from another site end here with 403. */
export function refuseCrossSiteChanges(req: Request, res: Response, next: NextFunction): void {
  if (isStateChanging(req.method) && fromOtherSite(req)) return sendError(res, crossSiteRefused());
  next();
}
