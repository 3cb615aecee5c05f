// /api/attachments: attach an image to a BMC's device (202: the operation runs in the background;
// GET shows its state), list, status, detach; /api/audit: who did what.
import express, { Router } from 'express';
import type { AttachmentManager } from '../attachments/manager.js';
import type { GatewayStore } from '../db/store.js';
import { badRequest, notFound } from '../errors.js';
import type { AttachmentState } from '../types.js';
import { maySee } from './acl.js';
import { caller, requireRole } from './auth.js';
import { attachmentView } from './views.js';

export function attachmentRoutes(manager: AttachmentManager, store: GatewayStore): Router {
  const r = Router();
  r.get('/api/attachments', requireRole('reader'), async (req, res) => {
    const q = req.query as Record<string, string | undefined>;
    const rows = await store.listAttachments({
      ...(q.bmc ? { bmc: q.bmc } : {}),
      ...(q.state ? { states: q.state.split(',') as AttachmentState[] } : {}),
    });
    res.json({ attachments: rows.map(attachmentView) });
  });
  r.post('/api/attachments', requireRole('operator'), express.json({ limit: '16kb' }), async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    for (const key of ['bmc', 'device', 'image'])
      if (typeof b[key] !== 'string' || b[key] === '') throw badRequest(`${key}: a non-empty string`);
    const who = caller(res);
    const row = await manager.attach(b.bmc as string, b.device as string, b.image as string, who.name, (image) =>
      maySee(who, image),
    );
    res.status(202).location(`/api/attachments/${row.id}`).json(attachmentView(row));
  });
  r.get('/api/attachments/:id', requireRole('reader'), async (req, res) => {
    const row = await store.getAttachment(String(req.params.id));
    if (!row) throw notFound(`attachment ${String(req.params.id)}`);
    res.json(attachmentView(row));
  });
  r.delete('/api/attachments/:id', requireRole('operator'), async (req, res) => {
    res.status(202).json(attachmentView(await manager.detach(String(req.params.id), caller(res).name)));
  });
  r.get('/api/audit', requireRole('admin'), async (req, res) => {
    const limit = Math.min(Number((req.query as Record<string, string | undefined>).limit ?? 100) || 100, 10_000);
    res.json({ audit: await store.listAudit(limit) });
  });
  return r;
}
