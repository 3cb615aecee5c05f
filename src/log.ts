// One logger for the whole service: JSON lines by default (journald, log shippers), pretty
// output when a person watches a terminal. Secrets never reach it: callers log names, not values.
import { pino, type Logger } from 'pino';

export type { Logger };

/** A URL as a log line may show it: scheme, host, port and path. The query string goes (presigned
 *  URLs carry their tokens there), and so do user info and fragment. */
export function redactUrl(url: URL): string {
  return `${url.origin === 'null' ? `${url.protocol}//${url.host}` : url.origin}${url.pathname}`;
}

export function createLogger(name: string, level = process.env.VMEDIA_LOG_LEVEL ?? 'info'): Logger {
  const pretty = process.stderr.isTTY && process.env.VMEDIA_LOG_FORMAT !== 'json';
  return pino(
    {
      name,
      level,
      redact: { paths: ['password', '*.password', 'credentials', '*.credentials'], censor: '[secret]' },
      transport: pretty ? { target: 'pino-pretty', options: { destination: 2 } } : undefined,
    },
    pretty ? undefined : pino.destination(2),
  );
}
