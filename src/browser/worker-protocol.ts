// Messages between the page and the worker that serves a file to a Proxy slot.

export interface StartMessage {
  type: 'start';
  file: File;
  /** wss://host/nbd/<n> */
  url: string;
  /** The XSRF token: the bridge takes it as the WebSocket subprotocol (as webui-vue sends it). */
  xsrfToken: string;
}
export interface StopMessage {
  type: 'stop';
}
export type ToWorker = StartMessage | StopMessage;

export interface OpenedMessage {
  type: 'opened';
}
export interface StatsMessage {
  type: 'stats';
  bytesRead: number;
  bytesWritten: number;
  /** Failed reads of the file, and the last failure. */
  fileErrors: number;
  lastFileError?: string;
}
export interface EndedMessage {
  type: 'ended';
  code: number;
  reason: string;
  opened: boolean;
  /** The user's Stop closed it. */
  stopped: boolean;
  /** Set when the NBD connection broke on an error rather than a close. */
  error?: string;
  bytesRead: number;
  bytesWritten: number;
}
export type FromWorker = OpenedMessage | StatsMessage | EndedMessage;

/** How often the worker reports its counters while serving. */
export const STATS_INTERVAL_MS = 500;
