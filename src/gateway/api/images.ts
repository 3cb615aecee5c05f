// /api/images: upload (the body is the image, streamed), list, metadata, download with Range,
// delete (refused while an attachment uses the image). A caller sees only the images it may
// (acl.ts): the others answer 404.
import { Router } from 'express';
import type { GatewayStore } from '../db/store.js';
import { conflict } from '../errors.js';
import { sendFileRange } from '../http/range.js';
import type { ImageRepository } from '../repository/image-repository.js';
import { LIVE_STATES } from '../types.js';
import { visibleImage, visibleImages } from './acl.js';
import { caller, requireRole } from './auth.js';

export function imageRoutes(repository: ImageRepository, store: GatewayStore): Router {
  const r = Router();
  r.get('/api/images', requireRole('reader'), (_req, res) => {
    res.json({ images: visibleImages(repository, res) });
  });
  r.post('/api/images', requireRole('operator'), async (req, res) => {
    const query = req.query as Record<string, string | undefined>;
    const type = req.headers['content-type'];
    const meta = await repository.upload(req, {
      name: query.name ?? '',
      sha256: query.sha256 ?? req.get('X-Image-Sha256'),
      ...(type && type !== 'application/octet-stream' ? { mediaType: type } : {}),
      createdBy: caller(res).name,
    });
    await store.audit(
      caller(res).name,
      'upload',
      `image ${meta.id}`,
      `${meta.name}, ${meta.size} bytes, sha256 ${meta.sha256}`,
    );
    res.status(201).location(`/api/images/${meta.id}`).json(meta);
  });
  r.get('/api/images/:id', requireRole('reader'), (req, res) => {
    res.json(visibleImage(repository, res, String(req.params.id)));
  });
  r.get('/api/images/:id/content', requireRole('reader'), async (req, res) => {
    await sendFileRange(req, res, repository.file(visibleImage(repository, res, String(req.params.id))));
  });
  r.delete('/api/images/:id', requireRole('admin'), async (req, res) => {
    const meta = repository.get(String(req.params.id));
    const using = await store.listAttachments({ imageId: meta.id, states: LIVE_STATES });
    if (using.length > 0)
      throw conflict(
        `image ${meta.id} is attached (${using.map((a) => `${a.bmc}/${a.device}`).join(', ')}): detach first`,
      );
    repository.delete(meta);
    await store.audit(caller(res).name, 'delete', `image ${meta.id}`, meta.name);
    res.status(204).end();
  });
  return r;
}
