// /metrics in Prometheus' text format 0.0.4 (reader role; Prometheus sends the bearer token):
// attachments by state and the bytes served and failed attempts recorded in the database (so they
// survive a restart and agree between gateways sharing one), and a histogram of how long the
// attach and detach operations this process finished took.
import { Router } from 'express';
import { DURATION_BOUNDS, type DurationHistogram } from '../attachments/operation-durations.js';
import type { GatewayStore } from '../db/store.js';
import { ATTACHMENT_STATES, type AttachmentRecord } from '../types.js';
import { requireRole } from './auth.js';

type Labels = Record<string, string>;

// label values here are our own words (states, operations); escaped anyway, as the format asks
const labelText = (labels: Labels) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');

function family(name: string, type: 'gauge' | 'counter' | 'histogram', help: string): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
}

function sample(name: string, labels: Labels, value: number): string {
  const text = labelText(labels);
  return `${name}${text ? `{${text}}` : ''} ${value}`;
}

function histogram(name: string, h: DurationHistogram): string[] {
  const labels = { operation: h.operation, outcome: h.outcome };
  let cumulative = 0;
  const buckets = DURATION_BOUNDS.map((bound, i) => {
    cumulative += h.buckets[i]!;
    return sample(`${name}_bucket`, { ...labels, le: String(bound) }, cumulative);
  });
  return [
    ...buckets,
    sample(`${name}_bucket`, { ...labels, le: '+Inf' }, h.count),
    sample(`${name}_sum`, labels, Number(h.seconds.toFixed(3))),
    sample(`${name}_count`, labels, h.count),
  ];
}

/** The exposition of these attachment records and operation durations. */
export function metricsText(
  rows: ReadonlyArray<Pick<AttachmentRecord, 'state' | 'bytesServed' | 'errorCount'>>,
  durations: readonly DurationHistogram[],
): string {
  // every state, 0 included (a series that vanishes reads as "no data", not as none), and one this
  // version does not know, written by a newer gateway sharing the PostgreSQL database
  const states = new Set<string>([...ATTACHMENT_STATES, ...rows.map((a) => a.state)]);
  const lines = [
    ...family('vmedia_gateway_attachments', 'gauge', 'Attachments by state.'),
    ...[...states].map((state) =>
      sample('vmedia_gateway_attachments', { state }, rows.filter((a) => a.state === state).length),
    ),
    ...family('vmedia_gateway_served_bytes_total', 'counter', 'Image bytes the media server sent to BMCs.'),
    sample(
      'vmedia_gateway_served_bytes_total',
      {},
      rows.reduce((sum, a) => sum + a.bytesServed, 0),
    ),
    ...family('vmedia_gateway_operation_errors_total', 'counter', 'Failed attach and detach attempts.'),
    sample(
      'vmedia_gateway_operation_errors_total',
      {},
      rows.reduce((sum, a) => sum + a.errorCount, 0),
    ),
    ...family(
      'vmedia_gateway_operation_seconds',
      'histogram',
      'Duration of the attach and detach operations this process finished (retries included), by outcome.',
    ),
    ...durations.flatMap((h) => histogram('vmedia_gateway_operation_seconds', h)),
  ];
  return `${lines.join('\n')}\n`;
}

export function metricsRoutes(store: GatewayStore, durations: () => DurationHistogram[]): Router {
  const r = Router();
  r.get('/metrics', requireRole('reader'), async (_req, res) => {
    res.type('text/plain; version=0.0.4').send(metricsText(await store.listAttachments(), durations()));
  });
  return r;
}
