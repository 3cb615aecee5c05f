// /api/attachments: attach an image (or generated media built from a document) to a BMC's device,
// now or for a window, optionally booting from it (202: the operation runs in the background; GET
// shows its state), list, status, detach; /api/audit: who did what.
import express, { Router, type Response } from 'express';
import type { AttachmentManager, ImageChoice } from '../attachments/manager.js';
import type { GatewayStore } from '../db/store.js';
import { MAX_GENERATED_MEDIA_INPUT_BYTES } from '../../generated-media/index.js';
import { badRequest, notFound } from '../errors.js';
import type { ImageRepository } from '../repository/image-repository.js';
import type { AttachmentRecord, AttachmentState } from '../types.js';
import { maySee } from './acl.js';
import { attachExtras } from './attach-extras.js';
import { caller, requireRole } from './auth.js';
import { attachmentView, maySeeAttachedImage } from './views.js';

/** A generated-media document is at most the generator's input limit; a little more for the rest. */
const ATTACH_BODY_LIMIT = MAX_GENERATED_MEDIA_INPUT_BYTES + 64 * 1024;

/** Exactly one of `image` (an image of the repository) and `generated` (a document to build). */
function imageChoice(b: Record<string, unknown>): ImageChoice {
  if (b.generated !== undefined) {
    if (b.image !== undefined) throw badRequest('image or generated, not both');
    if (typeof b.generated !== 'object' || b.generated === null || Array.isArray(b.generated))
      throw badRequest('generated: a generated-media document (an object with format)');
    return { generated: b.generated };
  }
  if (typeof b.image !== 'string' || b.image === '') throw badRequest('image: a non-empty string (or generated)');
  return b.image;
}

export function attachmentRoutes(manager: AttachmentManager, store: GatewayStore, repository: ImageRepository): Router {
  const r = Router();
  const view = (res: Response, row: AttachmentRecord) =>
    attachmentView(row, maySeeAttachedImage(caller(res), row, repository));
  r.get('/api/attachments', requireRole('reader'), async (req, res) => {
    const q = req.query as Record<string, string | undefined>;
    const rows = await store.listAttachments({
      ...(q.bmc ? { bmc: q.bmc } : {}),
      ...(q.state ? { states: q.state.split(',') as AttachmentState[] } : {}),
    });
    res.json({ attachments: rows.map((row) => view(res, row)) });
  });
  r.post('/api/attachments', requireRole('operator'), express.json({ limit: ATTACH_BODY_LIMIT }), async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    for (const key of ['bmc', 'device'])
      if (typeof b[key] !== 'string' || b[key] === '') throw badRequest(`${key}: a non-empty string`);
    const image = imageChoice(b);
    const extras = attachExtras(b);
    const who = caller(res);
    const row = await manager.attach(
      b.bmc as string,
      b.device as string,
      image,
      who.name,
      (m) => maySee(who, m),
      extras,
    );
    res.status(202).location(`/api/attachments/${row.id}`).json(view(res, row));
  });
  r.get('/api/attachments/:id', requireRole('reader'), async (req, res) => {
    const row = await store.getAttachment(String(req.params.id));
    if (!row) throw notFound(`attachment ${String(req.params.id)}`);
    res.json(view(res, row));
  });
  r.delete('/api/attachments/:id', requireRole('operator'), async (req, res) => {
    res.status(202).json(view(res, await manager.detach(String(req.params.id), caller(res).name)));
  });
  r.get('/api/audit', requireRole('admin'), async (req, res) => {
    const limit = Math.min(Number((req.query as Record<string, string | undefined>).limit ?? 100) || 100, 10_000);
    res.json({ audit: await store.listAudit(limit) });
  });
  return r;
}
