// The ETag of a resource: a hash of its JSON, as bmcweb computes it. Every GET sends it
// (sendJson); a PATCH that names ETags in If-Match goes ahead only while one of them is still the
// resource's, so a client cannot overwrite a change it has not seen (DSP0266 "ETags").
import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { redfishError } from './messages.js';

export function etagOf(body: unknown): string {
  return `"${createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 32)}"`;
}

/** 412 PreconditionFailed unless If-Match is absent, `*` or names `current`'s ETag (a weak one compared by value). */
export function requireCurrentEtag(req: Request, current: unknown): void {
  const ifMatch = req.get('If-Match');
  if (ifMatch === undefined) return;
  const etag = etagOf(current);
  if (ifMatch.split(',').some((t) => ['*', etag].includes(t.trim().replace(/^W\//, '')))) return;
  throw redfishError(412, 'PreconditionFailed', [], {
    resolution: `${req.originalUrl} changed since that ETag was read; read it again and retry with its current ETag.`,
  });
}
