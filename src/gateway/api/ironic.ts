// Ironic's node virtual media API, as its conductor answers it: POST attaches and answers 204 once
// the image is in (synchronous, like Ironic's RPC), DELETE detaches (all devices, or those in
// `device_types`), GET lists. `{node}` is the BMC's name. The image is one of this gateway's
// repository (its id, its name, or a URL ending in /api/images/<id>), or an https:// or oci://
// source, registered on first use. The BMCs reach nothing but the gateway, so it serves every
// image; Ironic's image_download_source says how: "http" (Ironic: the BMC fetches the URL itself)
// streams a source through by Range, "local" (Ironic: the conductor keeps a copy and serves it)
// keeps a local copy.
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { AttachmentManager } from '../attachments/manager.js';
import type { GatewayStore } from '../db/store.js';
import type { SourceImages } from '../sources/source-images.js';
import { badRequest, GatewayError } from '../errors.js';
import { LIVE_STATES, type DeviceType } from '../types.js';
import type { ImageRepository } from '../repository/image-repository.js';
import { maySee } from './acl.js';
import { attachExtras } from './attach-extras.js';
import { caller, requireRole, type Caller } from './auth.js';
import { maySeeAttachedImage, windowView } from './views.js';

const IRONIC_DEVICES: Record<string, DeviceType> = { cdrom: 'cd', floppy: 'usb', disk: 'usb' };
const IRONIC_NAME: Record<DeviceType, string> = { cd: 'cdrom', usb: 'disk' };

const DOWNLOAD_SOURCES = ['http', 'local'];

/** The image an image_url names: a source's (registered if need be) or one of the repository's. */
async function imageRef(imageUrl: string, downloadSource: string, sources: SourceImages, who: Caller): Promise<string> {
  const m = /\/api\/images\/([^/?#]+)(?:\/content)?(?:[?#].*)?$/.exec(imageUrl);
  if (m) return decodeURIComponent(m[1]!);
  if (/^(https|oci):\/\//.test(imageUrl)) {
    const req = { source: imageUrl, cached: downloadSource === 'local', createdBy: who.name };
    return (await sources.registered(req, (image) => maySee(who, image))).id;
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(imageUrl))
    throw badRequest(
      'image_url: an https:// or oci:// source, or an image of this gateway (id, name, /api/images/<id>)',
    );
  return imageUrl;
}

function deviceOf(deviceType: unknown): DeviceType {
  const device = typeof deviceType === 'string' ? IRONIC_DEVICES[deviceType] : undefined;
  if (!device) throw badRequest(`device_type: one of ${Object.keys(IRONIC_DEVICES).join(', ')}`);
  return device;
}

/** Ironic's error body: error_message holds a JSON string with faultstring. */
export function ironicErrors(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  if (!(err instanceof GatewayError)) return next(err);
  res.status(err.status).json({
    error_message: JSON.stringify({
      faultstring: err.message,
      faultcode: err.status < 500 ? 'Client' : 'Server',
      debuginfo: null,
    }),
  });
}

export function ironicRoutes(
  manager: AttachmentManager,
  store: GatewayStore,
  repository: ImageRepository,
  sources: SourceImages,
): Router {
  const r = Router();
  r.post('/nodes/:node/vmedia', requireRole('operator'), express.json({ limit: '16kb' }), async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    const device = deviceOf(b.device_type);
    if (typeof b.image_url !== 'string' || b.image_url === '') throw badRequest('image_url: required');
    const downloadSource = b.image_download_source ?? 'http';
    if (typeof downloadSource !== 'string' || !DOWNLOAD_SOURCES.includes(downloadSource))
      throw badRequest('image_download_source: "http" (a source streamed through) or "local" (a local copy)');
    const who = caller(res);
    const image = await imageRef(b.image_url, downloadSource, sources, who);
    // `boot` (ours, not Ironic's): a one-time boot from the device and a reset once attached
    const extras = attachExtras({ boot: b.boot });
    const row = await manager.attach(String(req.params.node), device, image, who.name, (m) => maySee(who, m), extras);
    const done = await manager.settled(row.id);
    if (done.state !== 'attached')
      throw new GatewayError(502, 'AttachFailed', done.error ?? `attachment is ${done.state}`);
    if (done.boot === 'failed') throw new GatewayError(502, 'BootFailed', done.error ?? 'the boot failed');
    res.status(204).end();
  });
  // What is in the BMC or on its way in or out, and the windows still to come: a scheduled one is
  // listed with inserted false (nothing is in the BMC yet) and its window (ours, not Ironic's).
  // The image's URL only to whom may see the image (null otherwise), as on /api/attachments.
  r.get('/nodes/:node/vmedia', requireRole('reader'), async (req, res) => {
    const who = caller(res);
    const rows = await store.listAttachments({ bmc: String(req.params.node), states: ['scheduled', ...LIVE_STATES] });
    res.json({
      vmedia: rows.map((a) => {
        const visible = maySeeAttachedImage(who, a, repository);
        const source = visible ? sources.sourceOf(a.imageId) : undefined;
        return {
          device_type: IRONIC_NAME[a.device],
          // the source's URL, as Ironic gave it; otherwise the gateway's image
          image_url: visible ? (source?.url ?? `/api/images/${a.imageId}`) : null,
          image_download_source: visible ? (source && !source.cached ? 'http' : 'local') : null,
          inserted: a.state === 'attached',
          state: a.state,
          window: windowView(a),
          attachment: a.id,
        };
      }),
    });
  });
  r.delete('/nodes/:node/vmedia', requireRole('operator'), async (req, res) => {
    const q = (req.query as Record<string, string | undefined>).device_types;
    const devices = q === undefined ? undefined : q.split(',').map(deviceOf);
    const rows = (
      await store.listAttachments({ bmc: String(req.params.node), states: ['attaching', 'attached'] })
    ).filter((a) => !devices || devices.includes(a.device));
    for (const row of rows) await manager.detach(row.id, caller(res).name);
    const settled = await Promise.all(rows.map((row) => manager.settled(row.id)));
    const failed = settled.filter((a) => a.state !== 'detached');
    if (failed.length > 0)
      throw new GatewayError(502, 'DetachFailed', failed.map((a) => a.error ?? a.state).join('; '));
    res.status(204).end();
  });
  return r;
}
