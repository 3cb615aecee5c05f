// A Redfish proxy in front of one BMC's web, as the BMC would see its clients: every request is
// passed through unchanged (same certificate, so the gateway's pinned CA and host name check
// hold), and each InsertMedia/EjectMedia action is recorded with when it began and ended. Actions
// of one BMC that overlap in time are what "two gateways drove one BMC at once" looks like.
// `before` lets a test see each request first: change it, act meanwhile, or answer it instead.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
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

/** Answers a request in the BMC's place (a JSON body), or undefined to pass it on. */
export type BeforeHook = (
  req: IncomingMessage,
) => Promise<{ status: number; body: unknown } | undefined> | { status: number; body: unknown } | undefined;

/** Every request as passed on (or answered by `before`), with the answer's status and ETag. */
export interface RecordedExchange {
  method: string;
  url: string;
  ifMatch: string | undefined;
  status: number;
  etag: string | undefined;
}

export interface RecordingProxy {
  /** https://127.0.0.1:PORT, to register as the BMC's redfishUrl. */
  url: string;
  actions: RecordedAction[];
  exchanges: RecordedExchange[];
  /** The most actions that were in flight at once. */
  maxInFlight(): number;
  stop(): Promise<void>;
}

const ACTION = /\/Actions\/VirtualMedia\.(InsertMedia|EjectMedia)$/;

export async function startRecordingProxy(stack: Stack, before?: BeforeHook): Promise<RecordingProxy> {
  const key = readFileSync(path.join(path.dirname(stack.caPath), 'web-key.pem'), 'utf8');
  const actions: RecordedAction[] = [];
  const exchanges: RecordedExchange[] = [];
  const record = (req: IncomingMessage, status: number, etag: string | undefined) =>
    exchanges.push({
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      ifMatch: req.headers['if-match'],
      status,
      etag,
    });
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer({ cert: stack.ca, key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on(
      'end',
      () =>
        void Promise.resolve(before?.(req)).then((answered) => {
          if (answered) {
            record(req, answered.status, undefined);
            res.writeHead(answered.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(answered.body));
            return;
          }
          const body = Buffer.concat(chunks);
          const action = ACTION.exec(req.url ?? '')?.[1] as RecordedAction['action'] | undefined;
          const began = performance.now();
          if (action) maxInFlight = Math.max(maxInFlight, ++inFlight);
          const { host: _host, ...headers } = req.headers;
          const upstream = httpsRequest(
            new URL(req.url ?? '/', stack.baseUrl),
            { method: req.method ?? 'GET', headers, ca: stack.ca },
            (answer) => {
              record(req, answer.statusCode ?? 0, answer.headers.etag);
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
        }),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    actions,
    exchanges,
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
