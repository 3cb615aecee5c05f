// An attachment written straight into a store in the state the manager leaves it once the BMC
// shows the image: for the media server's tests and benchmark, where no BMC is driven.
import { newMediaAccess, type MediaAccess } from '../../src/gateway/attachments/access.js';
import type { GatewayStore, NewAttachment } from '../../src/gateway/db/store.js';

export async function storeAttached(store: GatewayStore, a: NewAttachment, ttlMs = 60_000): Promise<MediaAccess> {
  await store.createAttachment(a);
  const access = newMediaAccess(a.id);
  await store.updateAttachment(a.id, {
    state: 'attached',
    tokenHash: access.tokenHash,
    passwordHash: access.passwordHash,
    expiresAt: Date.now() + ttlMs,
  });
  return access;
}
