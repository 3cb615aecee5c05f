// /api/uploads: resumable uploads (repository/upload-session.ts). POST opens a session, PATCH
// appends a piece at the offset (`Upload-Offset: N` as tus, or `Content-Range: [bytes ]N-M[/T]` as
// OCI's chunked upload), HEAD and GET tell the offset, PUT ?digest=sha256:<hex> checks the whole
// and makes it an image, DELETE cancels. A session is its creator's: for others it does not exist.
// The sessions are the state dir's, or with shared storage the registry's (any gateway continues).
import { Router, type Request, type Response } from 'express';
import type { GatewayStore } from '../db/store.js';
import { badRequest } from '../errors.js';
import { OffsetMismatch, type ResumableUploads, type SessionCaller } from '../repository/upload-session.js';
import { caller, requireRole } from './auth.js';

/** tus' Upload-Offset and OCI's Range (`0-<last byte>`) for a session at `offset`. */
function offsetHeaders(res: Response, offset: number): void {
  res.setHeader('Upload-Offset', String(offset));
  if (offset > 0) res.setHeader('Range', `0-${offset - 1}`);
}

/** Where a piece starts and, with Content-Range, how long it may be. */
function pieceOf(req: Request): { start: number; length?: number } {
  const range = req.get('Content-Range');
  if (range !== undefined) {
    const m = /^(?:bytes )?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(range.trim());
    if (!m || Number(m[2]) < Number(m[1])) throw badRequest('Content-Range: [bytes ]START-END[/TOTAL]');
    return { start: Number(m[1]), length: Number(m[2]) - Number(m[1]) + 1 };
  }
  const offset = req.get('Upload-Offset');
  if (offset === undefined || !/^\d+$/.test(offset))
    throw badRequest('a piece needs Upload-Offset: <offset> or Content-Range: <start>-<end>');
  return { start: Number(offset) };
}

export function uploadRoutes(sessions: ResumableUploads, store: GatewayStore): Router {
  const r = Router();
  const who = (res: Response): SessionCaller => ({ name: caller(res).name, admin: caller(res).role === 'admin' });
  const id = (req: Request) => String(req.params.id);

  r.post('/api/uploads', requireRole('operator'), async (req, res) => {
    const q = req.query as Record<string, string | undefined>;
    const size = q.size ?? req.get('Upload-Length');
    const session = await sessions.create({
      name: q.name ?? '',
      ...(size !== undefined ? { size: /^\d+$/.test(size) ? Number(size) : NaN } : {}),
      createdBy: caller(res).name,
    });
    offsetHeaders(res, 0);
    res.status(201).location(`/api/uploads/${session.id}`).json(session);
  });
  r.head('/api/uploads/:id', requireRole('operator'), async (req, res) => {
    const session = await sessions.get(id(req), who(res));
    offsetHeaders(res, session.offset);
    res.setHeader('Upload-Expires', new Date(session.expiresAt).toUTCString());
    res.status(200).end();
  });
  r.get('/api/uploads/:id', requireRole('operator'), async (req, res) => {
    const session = await sessions.get(id(req), who(res));
    offsetHeaders(res, session.offset);
    res.json(session);
  });
  r.patch('/api/uploads/:id', requireRole('operator'), async (req, res) => {
    const piece = pieceOf(req);
    try {
      offsetHeaders(res, await sessions.append(id(req), who(res), piece.start, req, piece.length));
    } catch (err) {
      if (err instanceof OffsetMismatch) offsetHeaders(res, err.offset);
      throw err;
    }
    res.status(204).end();
  });
  r.put('/api/uploads/:id', requireRole('operator'), async (req, res) => {
    const digest = (req.query as Record<string, string | undefined>).digest;
    if (digest === undefined) throw badRequest('digest: sha256:<64 hex digits> of the whole image');
    const image = await sessions.finish(id(req), who(res), digest);
    await store.audit(
      caller(res).name,
      'upload',
      `image ${image.id}`,
      `${image.name}, ${image.size} bytes, sha256 ${image.sha256}, resumable session ${id(req)}`,
    );
    res.status(201).location(`/api/images/${image.id}`).json(image);
  });
  r.delete('/api/uploads/:id', requireRole('operator'), async (req, res) => {
    await sessions.cancel(id(req), who(res));
    res.status(204).end();
  });
  return r;
}
