// A Redfish proxy in front of one BMC's web, as the BMC would see its clients: every request is
// passed through unchanged (same certificate, so the gateway's pinned CA and host name check
// hold), and each InsertMedia/EjectMedia action is recorded with when it began and ended. Actions
// of one BMC that overlap in time are what "two gateways drove one BMC at once" looks like.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Stack } from '../helpers/stack.js';

export interface RecordedAction {
  action: 'InsertMedia' | 'EjectMedia';
  /** InsertMedia's Image: whose media server it names says which gateway sent it. */
  image: string | undefined;
  status: number;
  began: number;
  ended: number;
}

export interface RecordingProxy {
  /** https://127.0.0.1:PORT, to register as the BMC's redfishUrl. */
  url: string;
  actions: RecordedAction[];
  /** The most actions that were in flight at once. */
  maxInFlight(): number;
  stop(): Promise<void>;
}

const ACTION = /\/Actions\/VirtualMedia\.(InsertMedia|EjectMedia)$/;

export async function startRecordingProxy(stack: Stack): Promise<RecordingProxy> {
  const key = readFileSync(path.join(path.dirname(stack.caPath), 'web-key.pem'), 'utf8');
  const actions: RecordedAction[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer({ cert: stack.ca, key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const action = ACTION.exec(req.url ?? '')?.[1] as RecordedAction['action'] | undefined;
      const began = performance.now();
      if (action) maxInFlight = Math.max(maxInFlight, ++inFlight);
      const { host: _host, ...headers } = req.headers;
      const upstream = httpsRequest(
        new URL(req.url ?? '/', stack.baseUrl),
        { method: req.method ?? 'GET', headers, ca: stack.ca },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on('end', () => {
            if (!action) return;
            inFlight--;
            actions.push({
              action,
              image: action === 'InsertMedia' ? imageOf(body) : undefined,
              status: answer.statusCode ?? 0,
              began,
              ended: performance.now(),
            });
          });
        },
      );
      upstream.on('error', (err) => {
        if (action) inFlight--;
        res.writeHead(502).end(err.message);
      });
      upstream.end(body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    actions,
    maxInFlight: () => maxInFlight,
    stop: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

function imageOf(body: Buffer): string | undefined {
  try {
    return (JSON.parse(body.toString('utf8')) as { Image?: string }).Image;
  } catch {
    return undefined;
  }
}
