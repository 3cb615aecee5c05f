// Per-image access: an image belongs to the token that uploaded it (its owner) and to whom the owner
// (or an admin) grants it: token names, `group:<name>` (the tokens file's Groups) or `*`. Admins see
// every image; anyone else sees, downloads and attaches only the images they own or are granted,
// and for them the others do not exist (404, never 403, so that names do not leak).
// /api/images/{id}/grants lists, grants and revokes, each in the audit log.
import { Router, type Response } from 'express';
import type { GatewayStore } from '../db/store.js';
import { badRequest, GatewayError } from '../errors.js';
import type { ImageMetadata, ImageRepository } from '../repository/image-repository.js';
import { caller, requireRole, type Caller } from './auth.js';

const PRINCIPAL = /^(?:\*|(?:group:)?[A-Za-z0-9][A-Za-z0-9._@-]{0,127})$/;

export function maySee(who: Caller, image: ImageMetadata): boolean {
  if (who.role === 'admin' || image.createdBy === who.name) return true;
  return image.grants.some((g) => g === '*' || g === who.name || who.groups.some((group) => g === `group:${group}`));
}

/** The image `idOrName` names among those the caller may see (404 otherwise). */
export function visibleImage(repository: ImageRepository, res: Response, idOrName: string): ImageMetadata {
  const who = caller(res);
  return repository.get(idOrName, (m) => maySee(who, m));
}

export function visibleImages(repository: ImageRepository, res: Response): ImageMetadata[] {
  const who = caller(res);
  return repository.list().filter((m) => maySee(who, m));
}

const grantsView = (m: ImageMetadata) => ({ image: m.id, owner: m.createdBy, grants: m.grants });

export function aclRoutes(repository: ImageRepository, store: GatewayStore): Router {
  const r = Router();
  r.get('/api/images/:id/grants', requireRole('reader'), (req, res) => {
    res.json(grantsView(visibleImage(repository, res, String(req.params.id))));
  });
  /** Grants and revokes: the owner's or an admin's. */
  const change = (action: 'grant' | 'revoke', apply: (grants: string[], principal: string) => string[]) =>
    r[action === 'grant' ? 'put' : 'delete'](
      '/api/images/:id/grants/:principal',
      requireRole('operator'),
      async (req, res) => {
        const meta = visibleImage(repository, res, String(req.params.id));
        const who = caller(res);
        if (who.role !== 'admin' && meta.createdBy !== who.name)
          throw new GatewayError(
            403,
            'Forbidden',
            `only ${meta.createdBy} (the owner) or an admin may change its grants`,
          );
        const principal = String(req.params.principal);
        if (!PRINCIPAL.test(principal)) throw badRequest('principal: a token name, group:<name> or *');
        const updated = await repository.setGrants(meta, apply(meta.grants, principal));
        await store.audit(who.name, action, `image ${meta.id}`, `${meta.name}, ${principal}`);
        res.json(grantsView(updated));
      },
    );
  change('grant', (grants, principal) => (grants.includes(principal) ? grants : [...grants, principal]));
  change('revoke', (grants, principal) => grants.filter((g) => g !== principal));
  return r;
}
