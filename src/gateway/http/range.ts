// Serving a file's bytes with HTTP Range (RFC 9110 §14): one range per request (a multi-range
// request gets the whole file, which the RFC allows), 416 for a range past the end.
import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

/** The range asked for, 'unsatisfiable', or undefined for the whole file. */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  if (start >= size) return 'unsatisfiable';
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return end < start ? undefined : { start, end };
}

/**
 * Answers GET or HEAD with the file's bytes (or the asked range) and resolves to the number of
 * body bytes sent, when the response is done or the client went away.
 */
export async function sendFileRange(
  req: IncomingMessage,
  res: ServerResponse,
  file: { path: string; size: number; mediaType: string; etag: string },
): Promise<number> {
  const range = parseRange(req.headers.range, file.size);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('ETag', `"${file.etag}"`);
  if (range === 'unsatisfiable') {
    res.writeHead(416, { 'Content-Range': `bytes */${file.size}` }).end();
    return 0;
  }
  const { start, end } = range ?? { start: 0, end: file.size - 1 };
  const length = file.size === 0 ? 0 : end - start + 1;
  res.writeHead(range ? 206 : 200, {
    'Content-Type': file.mediaType,
    'Content-Length': String(length),
    ...(range ? { 'Content-Range': `bytes ${start}-${end}/${file.size}` } : {}),
  });
  if (req.method === 'HEAD' || length === 0) {
    res.end();
    return 0;
  }
  let sent = 0;
  const source = createReadStream(file.path, { start, end, highWaterMark: 256 * 1024 });
  source.on('data', (chunk) => (sent += chunk.length));
  try {
    await pipeline(source, res);
  } catch {
    // the client closed the connection: what it got is counted, nothing else to do
  }
  return sent;
}
