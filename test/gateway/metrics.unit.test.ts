// The gateway's /metrics text, read back by Prometheus' own parser (python3-prometheus-client):
// attachments by state (0s included, and a state only a newer gateway sharing the database knows),
// byte and error counters past 2^32, and the operation-duration histogram's cumulative buckets,
// +Inf, sum and count.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metricsText } from '../../src/gateway/api/metrics.js';
import { DURATION_BOUNDS, OperationDurations } from '../../src/gateway/attachments/operation-durations.js';
import type { AttachmentState } from '../../src/gateway/types.js';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';

const row = (state: string, bytesServed = 0, errorCount = 0) => ({
  state: state as AttachmentState,
  bytesServed,
  errorCount,
});

test('a busy gateway: every family parses with its type, values and histogram buckets', async () => {
  const durations = new OperationDurations();
  for (const s of [0.1, 0.25, 1.5, 400]) durations.observe('attach', 'ok', s);
  durations.observe('detach', 'failed', 3);
  const rows = [
    row('attached', 5_000_000_000, 1),
    row('attached', 7, 0),
    row('failed', 0, 3),
    row('scheduled'),
    row('paused'), // a state of a newer gateway sharing the database
  ];
  const families = await parsePrometheusText(metricsText(rows, durations.snapshot()));
  const types = Object.fromEntries(families.map((f) => [f.name, f.type]));
  assert.deepEqual(types, {
    vmedia_gateway_attachments: 'gauge',
    vmedia_gateway_served_bytes: 'counter',
    vmedia_gateway_operation_errors: 'counter',
    vmedia_gateway_operation_seconds: 'histogram',
  });
  assert.ok(
    families.every((f) => f.help.length > 0),
    'every family has a HELP text',
  );

  const state = (s: string) => sampleValue(families, 'vmedia_gateway_attachments', { state: s });
  assert.deepEqual(
    ['scheduled', 'attaching', 'attached', 'detaching', 'detached', 'failed', 'paused'].map(state),
    [1, 0, 2, 0, 0, 1, 1],
  );
  assert.equal(sampleValue(families, 'vmedia_gateway_served_bytes_total'), 5_000_000_007);
  assert.equal(sampleValue(families, 'vmedia_gateway_operation_errors_total'), 4);

  const attach = { operation: 'attach', outcome: 'ok' };
  const bucket = (le: string) => sampleValue(families, 'vmedia_gateway_operation_seconds_bucket', { ...attach, le });
  // cumulative: 0.1 and 0.25 (a bound is inclusive) by 0.25 s, 1.5 by 2 s, 400 only in +Inf
  assert.equal(bucket('0.25'), 2);
  assert.equal(bucket('1'), 2);
  assert.equal(bucket('2'), 3);
  assert.equal(bucket(String(DURATION_BOUNDS.at(-1))), 3);
  assert.equal(bucket('+Inf'), 4);
  assert.equal(sampleValue(families, 'vmedia_gateway_operation_seconds_count', attach), 4);
  assert.equal(sampleValue(families, 'vmedia_gateway_operation_seconds_sum', attach), 401.85);
  const failed = { operation: 'detach', outcome: 'failed' };
  assert.equal(sampleValue(families, 'vmedia_gateway_operation_seconds_bucket', { ...failed, le: '5' }), 1);
  assert.equal(sampleValue(families, 'vmedia_gateway_operation_seconds_bucket', { ...failed, le: '2' }), 0);
});

test('a new gateway: every state at 0, counters at 0, the histogram declared without series', async () => {
  const families = await parsePrometheusText(metricsText([], []));
  assert.equal(families.find((f) => f.name === 'vmedia_gateway_attachments')?.samples.length, 6);
  assert.equal(sampleValue(families, 'vmedia_gateway_attachments', { state: 'attached' }), 0);
  assert.equal(sampleValue(families, 'vmedia_gateway_served_bytes_total'), 0);
  assert.deepEqual(families.find((f) => f.name === 'vmedia_gateway_operation_seconds')?.samples, []);
});

test('label values are escaped: quotes, backslashes and newlines come back as they were', async () => {
  const odd = 'odd "state"\\with\nnewline';
  const families = await parsePrometheusText(metricsText([row(odd)], []));
  assert.equal(sampleValue(families, 'vmedia_gateway_attachments', { state: odd }), 1);
});
