// /api/images: upload (the body is the image, streamed) or register from a source (a JSON body
// {source, name?, sha256?, cached?}: sources/), list, metadata, download with Range, refresh (an
// oci:// tag re-resolved: sources/refresh.ts), delete (refused while an attachment uses the image). A caller sees only the images it may
// (acl.ts): the others answer 404.
import express, { Router, type Request, type Response } from 'express';
import type { GatewayStore } from '../db/store.js';
import { badRequest, conflict, GatewayError } from '../errors.js';
import { sendRange } from '../http/range.js';
import type { ImageMetadata, ImageRepository } from '../repository/image-repository.js';
import type { SourceImages } from '../sources/source-images.js';
import { displaySource } from '../sources/source-url.js';
import { LIVE_STATES } from '../types.js';
import { visibleImage, visibleImages } from './acl.js';
import { caller, requireRole } from './auth.js';

/** A JSON body registers the image from its source (read once now, then served from there or a copy). */
function registerFromSource(sources: SourceImages, req: Request, res: Response): Promise<ImageMetadata> {
  const b = (req.body ?? {}) as Record<string, unknown>;
  if (typeof b.source !== 'string') throw badRequest('source: an https:// URL or an oci:// reference');
  if (b.name !== undefined && typeof b.name !== 'string') throw badRequest('name: a string');
  if (b.sha256 !== undefined && typeof b.sha256 !== 'string') throw badRequest('sha256: 64 hex digits');
  if (b.cached !== undefined && typeof b.cached !== 'boolean') throw badRequest('cached: true or false');
  return sources.register({
    source: b.source,
    ...(b.name !== undefined ? { name: b.name } : {}),
    ...(b.sha256 !== undefined ? { sha256: b.sha256 } : {}),
    cached: b.cached ?? false,
    createdBy: caller(res).name,
  });
}

/** 409 while an attachment is live on the image: its BMC reads those bytes. */
async function refuseAttached(store: GatewayStore, meta: ImageMetadata): Promise<void> {
  const using = await store.listAttachments({ imageId: meta.id, states: LIVE_STATES });
  if (using.length > 0)
    throw conflict(
      `image ${meta.id} is attached (${using.map((a) => `${a.bmc}/${a.device}`).join(', ')}): detach first`,
    );
}

export function imageRoutes(repository: ImageRepository, store: GatewayStore, sources: SourceImages): Router {
  const r = Router();
  r.get('/api/images', requireRole('reader'), (_req, res) => {
    res.json({ images: visibleImages(repository, res) });
  });
  // express.json reads only a JSON body: an upload's stream is left to the repository
  r.post('/api/images', requireRole('operator'), express.json({ limit: '16kb' }), async (req, res) => {
    const query = req.query as Record<string, string | undefined>;
    const type = req.headers['content-type'];
    const fromSource = req.is('application/json') === 'application/json';
    const meta = fromSource
      ? await registerFromSource(sources, req, res)
      : await repository.upload(req, {
          name: query.name ?? '',
          sha256: query.sha256 ?? req.get('X-Image-Sha256'),
          ...(type && type !== 'application/octet-stream' ? { mediaType: type } : {}),
          createdBy: caller(res).name,
        });
    await store.audit(
      caller(res).name,
      fromSource ? 'register' : 'upload',
      `image ${meta.id}`,
      `${meta.name}, ${meta.size} bytes, sha256 ${meta.sha256}${meta.source ? `, from ${displaySource(meta.source.url)}` : ''}`,
    );
    res.status(201).location(`/api/images/${meta.id}`).json(meta);
  });
  r.get('/api/images/:id', requireRole('reader'), (req, res) => {
    res.json(visibleImage(repository, res, String(req.params.id)));
  });
  r.get('/api/images/:id/content', requireRole('reader'), async (req, res) => {
    await sendRange(req, res, sources.content(visibleImage(repository, res, String(req.params.id))));
  });
  // the owner's or an admin's, as its grants: the bytes change for everyone the image is granted to
  r.post('/api/images/:id/refresh', requireRole('operator'), async (req, res) => {
    const meta = visibleImage(repository, res, String(req.params.id));
    const who = caller(res);
    if (who.role !== 'admin' && meta.createdBy !== who.name)
      throw new GatewayError(403, 'Forbidden', `only ${meta.createdBy} (the owner) or an admin may refresh it`);
    await refuseAttached(store, meta);
    const result = await sources.refresh(meta, () => refuseAttached(store, meta));
    if (result.changed)
      await store.audit(
        who.name,
        'refresh',
        `image ${meta.id}`,
        `${meta.name}, ${displaySource(meta.source!.url)}: ${result.previous.blobDigest ?? '?'} → ${result.image.source!.blobDigest!}, ${result.image.size} bytes`,
      );
    res.json(result);
  });
  r.delete('/api/images/:id', requireRole('admin'), async (req, res) => {
    const meta = repository.get(String(req.params.id));
    await refuseAttached(store, meta);
    await repository.delete(meta);
    await store.audit(caller(res).name, 'delete', `image ${meta.id}`, meta.name);
    res.status(204).end();
  });
  return r;
}
