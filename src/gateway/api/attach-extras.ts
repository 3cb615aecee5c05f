// What an attach request may add to the image and the device, read the same way by the native API
// and Ironic's route: a time window and a boot.
import type { AttachExtras } from '../attachments/manager.js';
import { badRequest } from '../errors.js';
import { parseWindow } from '../scheduler/window.js';

export function attachExtras(body: Record<string, unknown>): AttachExtras {
  if (body.boot !== undefined && typeof body.boot !== 'boolean') throw badRequest('boot: true or false');
  const window = parseWindow(body.window, Date.now());
  return { ...(window ? { window } : {}), ...(body.boot === true ? { boot: true } : {}) };
}
