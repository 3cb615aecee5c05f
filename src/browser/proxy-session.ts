// One local file served to one Proxy slot: owns the worker that runs the NBD server, turns its
// reports into figures for the page, and stops it (closing the WebSocket ejects the media).
import { RateMeter } from './rate-meter.js';
import type { EndedMessage, FromWorker, ToWorker } from './worker-protocol.js';

export interface SessionFigures {
  bytesRead: number;
  bytesWritten: number;
  fileErrors: number;
  lastFileError?: string;
  /** bytes per second, reads and writes together, over the last two seconds */
  rate: number;
}

export interface SessionEvents {
  opened(): void;
  figures(f: SessionFigures): void;
  ended(end: EndedMessage): void;
}

const WORKER_URL = new URL('./worker.js', import.meta.url);

function webSocketUrl(endpoint: string): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${endpoint}`;
}

export class ProxySession {
  private readonly worker = new Worker(WORKER_URL, { name: 'nbd-server' });
  private readonly meter = new RateMeter();
  private finished = false;

  constructor(
    readonly file: File,
    endpoint: string,
    xsrfToken: string,
    private readonly events: SessionEvents,
  ) {
    this.worker.onmessage = (ev: MessageEvent<FromWorker>) => this.handle(ev.data);
    this.worker.onerror = (ev) => {
      ev.preventDefault();
      this.finish({
        type: 'ended',
        code: 1006,
        reason: '',
        opened: false,
        stopped: false,
        bytesRead: 0,
        bytesWritten: 0,
        error: `the page's NBD worker failed: ${ev.message || 'could not load worker.js'}`,
      });
    };
    this.send({ type: 'start', file, url: webSocketUrl(endpoint), xsrfToken });
  }

  get running(): boolean {
    return !this.finished;
  }

  stop(): void {
    if (!this.finished) this.send({ type: 'stop' });
  }

  private send(msg: ToWorker): void {
    this.worker.postMessage(msg);
  }

  private handle(msg: FromWorker): void {
    switch (msg.type) {
      case 'opened':
        this.events.opened();
        break;
      case 'stats':
        this.events.figures({
          bytesRead: msg.bytesRead,
          bytesWritten: msg.bytesWritten,
          fileErrors: msg.fileErrors,
          lastFileError: msg.lastFileError,
          rate: this.meter.sample(performance.now(), msg.bytesRead + msg.bytesWritten),
        });
        break;
      case 'ended':
        this.finish(msg);
        break;
    }
  }

  private finish(end: EndedMessage): void {
    if (this.finished) return;
    this.finished = true;
    this.worker.terminate();
    this.events.ended(end);
  }
}
