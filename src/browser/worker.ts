// Worker entry: serves one file to one Proxy slot, off the page's main thread, so the UI stays
// responsive while the BMC reads at full speed.
import { serveFile, type FileSession } from './serve-file.js';
import { webSocketStreamConstructor, webSocketStreamSocket } from './websocketstream-socket.js';
import { STATS_INTERVAL_MS, type FromWorker, type ToWorker } from './worker-protocol.js';

declare const self: DedicatedWorkerGlobalScope;

let session: FileSession | undefined;
let failure: string | undefined;

function post(msg: FromWorker): void {
  self.postMessage(msg);
}

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  if (msg.type === 'stop') {
    session?.stop();
    return;
  }
  if (session) return; // one file per worker
  // without a token offer no subprotocol (an empty one is a SyntaxError): the bridge answers 401
  const protocols = msg.xsrfToken ? [msg.xsrfToken] : [];
  const WebSocketStream = webSocketStreamConstructor();
  const ws = WebSocketStream
    ? webSocketStreamSocket(WebSocketStream, msg.url, protocols)
    : new WebSocket(msg.url, protocols);
  const current = serveFile(ws, {
    file: msg.file,
    onOpen: () => post({ type: 'opened' }),
    onError: (err) => {
      failure = err.message;
    },
  });
  session = current;
  const report = () =>
    post({
      type: 'stats',
      ...current.counters,
      fileErrors: current.fileErrors.count,
      lastFileError: current.fileErrors.last,
    });
  const timer = setInterval(report, STATS_INTERVAL_MS);
  void current.ended.then((end) => {
    clearInterval(timer);
    post({ type: 'ended', ...end, error: failure, ...current.counters });
  });
};
