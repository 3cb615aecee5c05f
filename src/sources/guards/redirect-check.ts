// With redirects off, curl takes a redirect's own headers for the image's and nbdkit reports a
// missing Range support. One HEAD request without credentials tells the two apart.
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { MountError } from '../../errno.js';

const TIMEOUT_MS = 5000;

/** A MountError naming the refused redirect, or undefined when the URL does not redirect.
 *  `lookup` resolves the host (the SSRF guard's, so that this request too goes to a checked address). */
export function diagnoseRedirect(url: URL, lookup?: LookupFunction): Promise<MountError | undefined> {
  return new Promise((resolve) => {
    const get = url.protocol === 'https:' ? https.request : http.request;
    // only the status line matters and nothing secret is sent, so the certificate is not checked here
    const options = { method: 'HEAD', timeout: TIMEOUT_MS, rejectUnauthorized: false, ...(lookup ? { lookup } : {}) };
    const req = get(url, options, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(
        status >= 300 && status < 400
          ? new MountError(
              'ENOTSUP',
              `the image URL redirects (HTTP ${status}) and redirects are off (Sources.FollowRedirects)`,
            )
          : undefined,
      );
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}
