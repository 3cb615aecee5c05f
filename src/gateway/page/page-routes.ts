// The gateway's page: static files (index.html, app.js, the sha256 worker, CSS) served without a
// token, as they hold no data: every API request the page makes carries the operator's bearer
// token. The BMC page's Content-Security-Policy (scripts, styles, workers and connections from
// this origin only, never framed): a script injected into the page could neither load code from
// elsewhere nor send a token anywhere but back here.
import express, { Router } from 'express';
import { pageSecurityPolicy } from '../../web/page-policy.js';

/** The page built by scripts/build-gateway-page.sh; the default directory of `vmedia gateway --page`. */
export const PAGE_DIR_IN_CHECKOUT = 'dist/gateway/page/static';

export function pageRoutes(dir: string): Router {
  // no Host header: the page opens no WebSocket, 'self' is all it connects to
  const policy = pageSecurityPolicy(undefined);
  const r = Router();
  r.use(
    express.static(dir, {
      index: 'index.html',
      setHeaders: (res) => {
        res.setHeader('Content-Security-Policy', policy);
        res.setHeader('X-Content-Type-Options', 'nosniff');
        res.setHeader('Referrer-Policy', 'no-referrer');
      },
    }),
  );
  return r;
}
