// /metrics in Prometheus' text format (reader role; Prometheus sends the bearer token): attachments
// by state, bytes served, failed attempts, and the duration of finished attach and detach
// operations as the manager measured them.
import { Router } from 'express';
import type { OperationStats } from '../attachments/manager.js';
import type { GatewayStore } from '../db/store.js';
import type { AttachmentState } from '../types.js';
import { requireRole } from './auth.js';

const STATES: AttachmentState[] = ['attaching', 'attached', 'detaching', 'detached', 'failed'];

export function metricsRoutes(store: GatewayStore, operations: () => OperationStats): Router {
  const r = Router();
  r.get('/metrics', requireRole('reader'), async (_req, res) => {
    const rows = await store.listAttachments();
    const lines = [
      '# HELP vmedia_gateway_attachments Attachments by state.',
      '# TYPE vmedia_gateway_attachments gauge',
      ...STATES.map((s) => `vmedia_gateway_attachments{state="${s}"} ${rows.filter((a) => a.state === s).length}`),
      '# HELP vmedia_gateway_served_bytes_total Image bytes the media server sent to BMCs.',
      '# TYPE vmedia_gateway_served_bytes_total counter',
      `vmedia_gateway_served_bytes_total ${rows.reduce((sum, a) => sum + a.bytesServed, 0)}`,
      '# HELP vmedia_gateway_operation_errors_total Failed attach and detach attempts.',
      '# TYPE vmedia_gateway_operation_errors_total counter',
      `vmedia_gateway_operation_errors_total ${rows.reduce((sum, a) => sum + a.errorCount, 0)}`,
      '# HELP vmedia_gateway_operation_seconds Attach and detach operations this process finished, by outcome.',
      '# TYPE vmedia_gateway_operation_seconds summary',
    ];
    for (const [key, stat] of Object.entries(operations())) {
      const [op, outcome] = key.split(':');
      lines.push(`vmedia_gateway_operation_seconds_count{operation="${op}",outcome="${outcome}"} ${stat.count}`);
      lines.push(
        `vmedia_gateway_operation_seconds_sum{operation="${op}",outcome="${outcome}"} ${stat.seconds.toFixed(3)}`,
      );
    }
    res.type('text/plain; version=0.0.4').send(`${lines.join('\n')}\n`);
  });
  return r;
}
